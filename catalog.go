package errenvelope

// The error catalog (SPEC §10.1): JSON or YAML files that list an API's
// error codes with their statuses and messages. They are read and checked
// once, when the configuration loads; a request only reads the result.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
)

// catalogEntry is one checked entry of a catalog file.
type catalogEntry struct {
	code   string
	status int
	// texts[i] is the message in langs.tags[i]; texts[0] is `message`.
	texts         []template
	lang          string   // the language of texts[0], the file's
	langs         *langSet // nil when the entry has no `messages`
	description   string
	typ           string
	upstreamCodes []string
	statuses      []string
	source        string // its catalog, as errors name it: `catalog "apig.json"`, `inline_catalogs[0]`
	index         int
}

// message returns the entry's message in the language the client
// prefers, and the Content-Language value of that language ("" when the
// entry speaks one language only, and so does not vary by client).
func (e *catalogEntry) message(r *http.Request) (template, string) {
	if e.langs == nil {
		return e.texts[0], ""
	}
	i := e.langs.pick(r)
	return e.texts[i], e.langs.names[i]
}

// catalog is every entry of a handler's catalogs, in file order.
type catalog struct {
	entries []*catalogEntry
	// byCode lists the entries of each code (one per status it has), so a
	// lookup costs the same whatever the catalog's size.
	byCode map[string][]*catalogEntry
}

func (c *catalog) has(code string) bool {
	if c == nil {
		return false
	}
	_, ok := c.byCode[code]
	return ok
}

// entriesOf returns the entries of code, one per status it has.
func (c *catalog) entriesOf(code string) []*catalogEntry {
	if c == nil {
		return nil
	}
	return c.byCode[code]
}

// entryFor returns the entry of code for status, else the first entry of
// code, else nil.
func (c *catalog) entryFor(code string, status int) *catalogEntry {
	return c.entryOr(code, status, nil)
}

// entryOr returns the entry of code for status, else dflt when it is set,
// else the first entry of code, else nil. The message belongs to the code
// and the status: a rule of one entry yields to the entry of its code
// for the response's status.
func (c *catalog) entryOr(code string, status int, dflt *catalogEntry) *catalogEntry {
	if c == nil {
		return nil
	}
	es := c.byCode[code]
	for _, e := range es {
		if e.status == status {
			return e
		}
	}
	if dflt != nil {
		return dflt
	}
	if len(es) > 0 {
		return es[0]
	}
	return nil
}

// The members of a catalog file and of its entries.
var (
	catalogMembers = []string{"language", "errors"}
	entryMembers   = []string{"code", "status", "message", "messages", "description", "type", "upstream_codes", "statuses"}
)

// rawEntry is one entry of a file, as JSON, with the line it starts on
// and, for YAML, the line of each member.
type rawEntry struct {
	line    int
	data    []byte
	members map[string]int // YAML: the line of each member
}

// lineOf is the line of the entry's member, or of the entry itself when
// it has no such member. A JSON entry's members are found in its bytes,
// which keep the file's own text from where the entry starts.
func (r rawEntry) lineOf(member string) int {
	if member == "" {
		return r.line
	}
	if r.members != nil {
		if l, ok := r.members[member]; ok {
			return l
		}
		return r.line
	}
	dec := json.NewDecoder(bytes.NewReader(r.data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return r.line
	}
	for dec.More() {
		at := nextToken(r.data, int(dec.InputOffset()))
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if tok == member {
			return r.line + bytes.Count(r.data[:at], []byte{'\n'})
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			break
		}
	}
	return r.line
}

// catalogSource is one catalog of a handler: a file, or an inline one of
// the JSON config.
type catalogSource struct {
	name string // what errors call it: `catalog "apig.json"`, `inline_catalogs[0]`
	path string // a file's path, for its type
	data []byte // an inline catalog's JSON
}

// sourcesOf are a handler's catalogs: its files, then its inline ones.
func sourcesOf(paths []string, inline []json.RawMessage) []catalogSource {
	var srcs []catalogSource
	for _, p := range paths {
		srcs = append(srcs, catalogSource{name: fmt.Sprintf("catalog %q", p), path: p})
	}
	for i, data := range inline {
		srcs = append(srcs, catalogSource{name: fmt.Sprintf("inline_catalogs[%d]", i), path: ".json", data: data})
	}
	return srcs
}

// loadCatalogs reads and checks the catalog files of one handler. Codes
// and upstream codes are unique across all of them, as are status specs
// and code + status pairs.
func loadCatalogs(paths []string) (*catalog, error) {
	return loadSources(sourcesOf(paths, nil))
}

// loadSources reads and checks the catalogs of one handler, files and
// inline ones alike: codes and upstream codes are unique across all of
// them, as are status specs and code + status pairs.
func loadSources(srcs []catalogSource) (*catalog, error) {
	if len(srcs) == 0 {
		return nil, nil
	}
	c := &catalog{byCode: map[string][]*catalogEntry{}}
	sets := langSets{}
	upstreamOwner := map[string]*catalogEntry{}
	specOwner := map[statusSpec]*catalogEntry{}
	seenFile := map[string]bool{}
	for _, src := range srcs {
		data := src.data
		if data == nil {
			path := src.path
			if path == "" {
				return nil, fmt.Errorf("catalog: file name is empty")
			}
			if seenFile[filepath.Clean(path)] {
				return nil, fmt.Errorf("catalog %q: listed twice", path)
			}
			seenFile[filepath.Clean(path)] = true
			var err error
			data, err = os.ReadFile(path) //nolint:gosec // the operator's own file, named in the config
			if err != nil {
				return nil, fmt.Errorf("catalog %q: %w", path, err)
			}
		}
		lang, raws, err := splitCatalog(src.path, data)
		if err != nil {
			if src.data != nil {
				// Caddy re-encodes a config it loads, so an inline
				// catalog's lines are not the operator's: say none.
				msg := err.Error()
				if rest, ok := strings.CutPrefix(msg, "line "); ok {
					if _, after, found := strings.Cut(rest, ": "); found {
						msg = after
					}
				}
				return nil, fmt.Errorf("%s: %s", src.name, msg)
			}
			return nil, fmt.Errorf("%s: %w", src.name, err)
		}
		for i, raw := range raws {
			e, err := parseEntry(raw.data, lang, sets)
			if e != nil {
				e.source, e.index = src.name, i
			}
			// where names the entry at the line of member, else where
			// the entry starts; an inline catalog by its place alone.
			where := func(member string) string {
				s := fmt.Sprintf("%s line %d: errors[%d]", src.name, raw.lineOf(member), i)
				if src.data != nil {
					s = fmt.Sprintf("%s: errors[%d]", src.name, i)
				}
				if e != nil && e.code != "" {
					s += fmt.Sprintf(" (code %q)", e.code)
				}
				return s
			}
			if err != nil {
				var me *memberError
				member := ""
				if errors.As(err, &me) {
					member = me.member
				}
				return nil, fmt.Errorf("%s: %w", where(member), err)
			}
			for _, other := range c.byCode[e.code] {
				if other.status == e.status {
					return nil, fmt.Errorf("%s: status: code %q with status %d is already %s", where("status"), e.code, e.status, other.ref())
				}
			}
			for _, up := range e.upstreamCodes {
				if other := upstreamOwner[up]; other != nil {
					return nil, fmt.Errorf("%s: upstream_codes: %q is already claimed by %s", where("upstream_codes"), up, other.ref())
				}
				upstreamOwner[up] = e
			}
			for _, s := range e.statuses {
				spec, _ := parseStatusSpec(s) // checked by parseEntry
				if other := specOwner[spec]; other != nil {
					return nil, fmt.Errorf("%s: statuses: %s is already claimed by %s", where("statuses"), s, other.ref())
				}
				specOwner[spec] = e
			}
			c.entries = append(c.entries, e)
			c.byCode[e.code] = append(c.byCode[e.code], e)
		}
	}
	return c, nil
}

// ref names an entry in messages about another one.
func (e *catalogEntry) ref() string {
	return fmt.Sprintf("errors[%d] (code %q) of %s", e.index, e.code, e.source)
}

// splitCatalog parses a file by its extension into its language and its
// entries, each still raw, with the line it starts on.
func splitCatalog(path string, data []byte) (language.Tag, []rawEntry, error) {
	var langName string
	var raws []rawEntry
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		langName, raws, err = splitJSON(data)
	case ".yaml", ".yml":
		langName, raws, err = splitYAML(data)
	default:
		return language.Tag{}, nil, fmt.Errorf("want a .json, .yaml or .yml file")
	}
	if err != nil {
		return language.Tag{}, nil, err
	}
	if langName == "" {
		langName = "en"
	}
	tag, err := language.Parse(langName)
	if err != nil {
		return language.Tag{}, nil, fmt.Errorf("language: %q is not a BCP 47 language tag", langName)
	}
	return tag, raws, nil
}

func splitJSON(data []byte) (string, []rawEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	fail := func(err error) (string, []rawEntry, error) {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return "", nil, fmt.Errorf("line %d: syntax error: %w", lineAt(data, int(se.Offset)), se)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return "", nil, fmt.Errorf("line %d: syntax error: unexpected end of file", lineAt(data, len(data)))
		}
		return "", nil, err
	}
	tok, err := dec.Token()
	if err != nil {
		return fail(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return "", nil, fmt.Errorf("line 1: want an object with the members language and errors")
	}
	var lang string
	var raws []rawEntry
	seen := map[string]bool{}
	lines := lineCounter{data: data}
	for dec.More() {
		keyAt := nextToken(data, int(dec.InputOffset()))
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return "", nil, fmt.Errorf("line %d: member %q appears twice", lineAt(data, keyAt), key)
		}
		seen[key] = true
		switch key {
		case "language":
			if err := dec.Decode(&lang); err != nil {
				return fail(memberTypeError("language", "a string", err))
			}
		case "errors":
			tok, err := dec.Token()
			if err != nil {
				return fail(err)
			}
			if d, ok := tok.(json.Delim); !ok || d != '[' {
				return "", nil, fmt.Errorf("line %d: errors: want a list of entries", lineAt(data, keyAt))
			}
			for dec.More() {
				at := nextToken(data, int(dec.InputOffset()))
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return fail(err)
				}
				raws = append(raws, rawEntry{line: lines.at(at), data: raw})
			}
			if _, err := dec.Token(); err != nil {
				return fail(err)
			}
		default:
			return "", nil, fmt.Errorf("line %d: unknown member %q (want %s)", lineAt(data, keyAt), key, strings.Join(catalogMembers, ", "))
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", nil, fmt.Errorf("line %d: unexpected data after the catalog object", lineAt(data, int(dec.InputOffset())))
	}
	if !seen["errors"] {
		return "", nil, fmt.Errorf("errors: missing (the list of entries)")
	}
	return lang, raws, nil
}

func splitYAML(data []byte) (string, []rawEntry, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return "", nil, yamlSyntaxError(data, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return "", nil, fmt.Errorf("errors: missing (the file is empty)")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return "", nil, fmt.Errorf("line %d: want a mapping with the members language and errors", root.Line)
	}
	var lang string
	var raws []rawEntry
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return "", nil, fmt.Errorf("line %d: member %q appears twice", k.Line, k.Value)
		}
		seen[k.Value] = true
		switch k.Value {
		case "language":
			if v.Kind != yaml.ScalarNode {
				return "", nil, fmt.Errorf("line %d: language: want a string", v.Line)
			}
			lang = v.Value
		case "errors":
			if v.Kind != yaml.SequenceNode {
				return "", nil, fmt.Errorf("line %d: errors: want a list of entries", v.Line)
			}
			for j, item := range v.Content {
				var x any
				if err := item.Decode(&x); err != nil {
					return "", nil, fmt.Errorf("line %d: errors[%d]: %w", item.Line, j, err)
				}
				raw, err := json.Marshal(x)
				if err != nil {
					return "", nil, fmt.Errorf("line %d: errors[%d]: members must be named by strings", item.Line, j)
				}
				lines := map[string]int{}
				if item.Kind == yaml.MappingNode {
					for k := 0; k+1 < len(item.Content); k += 2 {
						lines[item.Content[k].Value] = item.Content[k].Line
					}
				}
				raws = append(raws, rawEntry{line: item.Line, data: raw, members: lines})
			}
		default:
			return "", nil, fmt.Errorf("line %d: unknown member %q (want %s)", k.Line, k.Value, strings.Join(catalogMembers, ", "))
		}
	}
	if !seen["errors"] {
		return "", nil, fmt.Errorf("errors: missing (the list of entries)")
	}
	return lang, raws, nil
}

// yamlSyntaxError names the line where a YAML file stops parsing. The
// YAML parser reports the line where the construct around the problem
// starts (a member indented wrongly on line 4 reads "line 1"); the
// problem's own line is the first one whose addition breaks the file,
// found by parsing its beginnings, a number of times logarithmic in its
// length.
func yamlSyntaxError(data []byte, err error) error {
	ends := []int{} // ends[i] is the offset after line i+1
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		ends = append(ends, len(data))
	}
	parses := func(n int) bool { // the first n lines
		var doc yaml.Node
		return n == 0 || yaml.Unmarshal(data[:ends[n-1]], &doc) == nil
	}
	lo, hi := 0, len(ends) // parses(lo); !parses(hi)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if parses(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	msg := yamlLinePrefix.ReplaceAllString(err.Error(), "")
	return fmt.Errorf("line %d: syntax error: %s", hi, msg)
}

// yamlLinePrefix is the parser's own "yaml: line N: " before its message.
var yamlLinePrefix = regexp.MustCompile(`^yaml: (line \d+: )?`)

// parseEntry checks one entry. On error it still returns the entry with
// its code when the code could be read, so the message can name it.
func parseEntry(data []byte, fileLang language.Tag, sets langSets) (*catalogEntry, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil || members == nil {
		return nil, fmt.Errorf("want an object with the members %s", strings.Join(entryMembers, ", "))
	}
	e := &catalogEntry{}
	if raw, ok := members["code"]; ok {
		if err := json.Unmarshal(raw, &e.code); err != nil {
			return nil, memberTypeError("code", "a string", err)
		}
	}
	for name := range members {
		if !isEntryMember(name) {
			return e, memberErr(name, "unknown member %q (want %s)", name, strings.Join(entryMembers, ", "))
		}
	}
	if _, ok := members["code"]; !ok {
		return e, memberErr("code", "code: missing")
	}
	if e.code == "" {
		return e, memberErr("code", "code: empty")
	}
	if !isPlausibleCode(e.code) {
		return e, memberErr("code", "code: %q has surrounding space or control characters", e.code)
	}

	raw, ok := members["status"]
	if !ok {
		return e, memberErr("status", "status: missing")
	}
	if err := json.Unmarshal(raw, &e.status); err != nil {
		return e, memberErr("status", "status: want a number within %d-%d, got %s", minStatus, maxStatus, raw)
	}
	if e.status < minStatus || e.status > maxStatus {
		return e, memberErr("status", "status: %d is not within %d-%d", e.status, minStatus, maxStatus)
	}

	var msg string
	if raw, ok := members["message"]; !ok {
		return e, memberErr("message", "message: missing")
	} else if err := json.Unmarshal(raw, &msg); err != nil {
		return e, memberTypeError("message", "a string", err)
	}
	if strings.TrimSpace(msg) == "" {
		return e, memberErr("message", "message: empty")
	}

	var msgs map[string]string
	if raw, ok := members["messages"]; ok {
		if err := json.Unmarshal(raw, &msgs); err != nil {
			return e, memberTypeError("messages", "an object of language tags and messages", err)
		}
	}
	byTag := map[string]string{}
	var tags []language.Tag
	for name, text := range msgs {
		tag, err := language.Parse(name)
		if err != nil {
			return e, memberErr("messages", "messages: %q is not a BCP 47 language tag", name)
		}
		canon := tag.String()
		if tag == fileLang {
			return e, memberErr("messages", "messages: %q is the catalog's language, whose message is `message`", name)
		}
		if _, dup := byTag[canon]; dup {
			return e, memberErr("messages", "messages: %q appears twice", canon)
		}
		if strings.TrimSpace(text) == "" {
			return e, memberErr("messages", "messages: the %q message is empty", name)
		}
		byTag[canon] = text
		tags = append(tags, tag)
	}
	e.texts, e.lang = []template{newTemplate(msg)}, fileLang.String()
	if len(tags) > 0 {
		e.langs = sets.get(sortedTags(fileLang, tags))
		for _, t := range e.langs.tags[1:] {
			e.texts = append(e.texts, newTemplate(byTag[t.String()]))
		}
	}

	if raw, ok := members["description"]; ok {
		if err := json.Unmarshal(raw, &e.description); err != nil {
			return e, memberTypeError("description", "a string", err)
		}
	}
	if raw, ok := members["type"]; ok {
		if err := json.Unmarshal(raw, &e.typ); err != nil {
			return e, memberTypeError("type", "a string (a URI)", err)
		}
		if _, err := url.Parse(e.typ); err != nil || e.typ == "" || strings.ContainsAny(e.typ, " \t\r\n") {
			return e, memberErr("type", "type: %q is not a URI", e.typ)
		}
	}
	if raw, ok := members["upstream_codes"]; ok {
		if err := json.Unmarshal(raw, &e.upstreamCodes); err != nil {
			return e, memberTypeError("upstream_codes", "a list of strings", err)
		}
		seen := map[string]bool{}
		for _, up := range e.upstreamCodes {
			if up == "" {
				return e, memberErr("upstream_codes", "upstream_codes: an upstream code is empty")
			}
			if seen[up] {
				return e, memberErr("upstream_codes", "upstream_codes: %q appears twice", up)
			}
			seen[up] = true
		}
	}
	if raw, ok := members["statuses"]; ok {
		var specs []json.RawMessage
		if err := json.Unmarshal(raw, &specs); err != nil {
			return e, memberTypeError("statuses", "a list of statuses, classes or ranges", err)
		}
		seen := map[statusSpec]bool{}
		for _, s := range specs {
			var spec string
			if json.Unmarshal(s, &spec) != nil {
				var n json.Number // 404 and "404" alike
				if err := json.Unmarshal(s, &n); err != nil {
					return e, memberErr("statuses", "statuses: want statuses, classes or ranges as strings, got %s", s)
				}
				spec = n.String()
			}
			parsed, err := parseStatusSpec(spec)
			if err != nil {
				return e, memberErr("statuses", "statuses: %w", err)
			}
			if seen[parsed] {
				return e, memberErr("statuses", "statuses: %s appears twice", spec)
			}
			seen[parsed] = true
			e.statuses = append(e.statuses, spec)
		}
	}
	return e, nil
}

func isEntryMember(name string) bool {
	for _, m := range entryMembers {
		if m == name {
			return true
		}
	}
	return false
}

// memberTypeError says which member has the wrong JSON type, without the
// Go type names encoding/json would give.
func memberTypeError(member, want string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return memberErr(member, "%s: want %s, got a JSON %s", member, want, te.Value)
	}
	return memberErr(member, "%s: want %s", member, want)
}

// memberError is an error about one member of a catalog entry, so that
// it is reported at that member's own line.
type memberError struct {
	member string
	err    error
}

func (e *memberError) Error() string { return e.err.Error() }
func (e *memberError) Unwrap() error { return e.err }

func memberErr(member, format string, args ...any) error {
	return &memberError{member: member, err: fmt.Errorf(format, args...)}
}

// lineAt is the 1-based line of byte offset off.
func lineAt(data []byte, off int) int {
	off = min(max(off, 0), len(data))
	return 1 + bytes.Count(data[:off], []byte{'\n'})
}

// lineCounter finds the lines of increasing offsets without counting
// from the start each time, so a long file's entries cost linear time.
type lineCounter struct {
	data      []byte
	off, line int
}

func (c *lineCounter) at(off int) int {
	off = min(max(off, c.off), len(c.data))
	c.line += bytes.Count(c.data[c.off:off], []byte{'\n'})
	c.off = off
	return c.line + 1
}

// nextToken skips the space and separators after off, to where the next
// value of a JSON stream starts.
func nextToken(data []byte, off int) int {
	for off < len(data) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}
