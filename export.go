package errenvelope

// The effective error contract of a handler (SPEC §10.5): every code a
// client can receive from it, and how that contract is written out as
// JSON, Markdown and OpenAPI 3.1 by `caddy error-catalog`.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// contract is the export of every error_envelope handler of a config.
type contract struct {
	Handlers []handlerContract `json:"handlers"`
}

// handlerContract is what one handler's clients can receive. Label,
// Server, Catalogs and Digest are omitempty so that digest() can leave
// them out.
type handlerContract struct {
	Label           string          `json:"label,omitempty"`
	Name            string          `json:"name,omitempty"`
	Server          string          `json:"server,omitempty"`
	Mode            string          `json:"mode"`
	Catalogs        []string        `json:"catalogs,omitempty"`
	Languages       []string        `json:"languages,omitempty"`
	UnknownCodes    string          `json:"unknown_codes"`
	UpstreamMessage string          `json:"upstream_message"`
	CodePattern     string          `json:"code_pattern,omitempty"`
	RequestID       bool            `json:"request_id"`
	ProblemDetails  bool            `json:"problem_details"`
	TypeBase        string          `json:"type_base,omitempty"`
	Digest          string          `json:"digest,omitempty"`
	Fields          []string        `json:"fields,omitempty"`
	Errors          []contractError `json:"errors"`

	handler *Handler // whose responses the OpenAPI document renders
}

// statusResponse is every body one status can carry, each as the handler
// writes it.
type statusResponse struct {
	status   int
	examples []example
}

// uniqueName names an example by its code, else by its code and the
// upstream code it comes from, else with a number: component names are
// keys, and no example may hide another. names are those taken.
func uniqueName(names map[string]bool, code, via string) string {
	taken := func(name string) bool { return names[name] }
	name := componentName(code)
	if !taken(name) {
		return name
	}
	if via != "" {
		if name = componentName(code + ".from." + via); !taken(name) {
			return name
		}
	}
	base := name
	for i := 2; taken(name); i++ {
		name = base + "." + strconv.Itoa(i)
	}
	return name
}

// example is one body of a status: the envelope, and the problem details
// a client that asks for them gets.
type example struct {
	name, code, summary, description string
	envelope, problem                []byte
}

// exampleRequestID stands in for the request ID in examples.
const exampleRequestID = "0f8fad5b-d9cb-469f-a165-70867728950e"

// responses renders, for every examined status, each body a client can
// receive with it, through the runtime's own choice and encoders: the
// status's own code, the catalog codes documented at it, and the codes
// mapped from an upstream's code (which any status can carry).
func (p *policy) responses(h *Handler) []statusResponse {
	rid := ""
	if p.requestID.s != "" {
		rid = exampleRequestID
	}
	var mapped []string // every upstream code with a rule, in config order
	for _, r := range h.MapCode {
		mapped = append(mapped, r.UpstreamCode)
	}
	if cat := p.rules.catalog; cat != nil {
		for _, e := range cat.entries {
			for _, up := range e.upstreamCodes {
				if p.rules.byCode[up].entry == e {
					mapped = append(mapped, up)
				}
			}
		}
	}
	var out []statusResponse
	for st := minStatus; st <= maxStatus; st++ {
		if !p.examined.has(st) {
			continue
		}
		sr := statusResponse{status: st}
		added := map[string]bool{} // code and envelope of each example
		names := map[string]bool{}
		add := func(up upstreamWords, via string, e *catalogEntry) {
			d := decision{status: st, requestID: rid}
			p.choose(&d, up, nil, nil)
			env := p.appendEnvelope(nil, d.msg, d.code, rid, nil)
			key := d.code + "\x00" + string(env)
			if added[key] {
				return
			}
			added[key] = true
			name := uniqueName(names, d.code, via)
			names[name] = true
			x := example{name: name, code: d.code, summary: d.msg, envelope: env}
			if via != "" {
				x.description = "When the upstream's error body has the code " + via + "."
			}
			if e == nil {
				e = p.rules.catalog.entryFor(d.code, st)
			}
			if e != nil && e.description != "" {
				x.description = strings.TrimSpace(e.description + " " + x.description)
			}
			if p.problem {
				x.problem = p.appendProblem(nil, st, d.msg, d.code, d.typ, rid, nil)
			}
			sr.examples = append(sr.examples, x)
		}
		add(upstreamWords{}, "", nil)
		if cat := p.rules.catalog; cat != nil {
			for _, e := range cat.entries {
				if e.status == st {
					add(upstreamWords{errorCode: e.code}, "", e)
				}
			}
		}
		for _, up := range mapped {
			add(upstreamWords{code: up}, up, nil)
		}
		out = append(out, sr)
	}
	return out
}

// contractError is one row of the contract: a code, the statuses it
// comes with (statuses and runs like "405-408"; none for map_code rows,
// which apply to whatever status the upstream sent) and its message. With
// UpstreamFirst the message is what the client gets when the upstream's
// body gives none: where upstream_message allows, the upstream's own
// message comes first. A catalog row's upstream codes always carry its
// message (they are map_code rules with the entry's message, §10.2).
type contractError struct {
	Code          string            `json:"code"`
	Statuses      []string          `json:"statuses"`
	Message       string            `json:"message"`
	Messages      map[string]string `json:"messages,omitempty"`
	UpstreamFirst bool              `json:"upstream_message_first,omitempty"`
	Description   string            `json:"description,omitempty"`
	Type          string            `json:"type,omitempty"`
	Source        string            `json:"source"`
	UpstreamCodes []string          `json:"upstream_codes,omitempty"`

	statuses []int    // the statuses, before they are written as runs
	codes    []string // a run of fallback codes: each of them
	// severalEntries: a map_code row whose code has a catalog entry per
	// status, each with its own type and description.
	severalEntries bool
	entry          *catalogEntry // the catalog entry whose message the row sends, if any
	phrase         bool          // the message is each status's reason phrase
}

// upstreamFirstWords start a message that an upstream's own may replace.
const upstreamFirstWords = "Upstream's message, else: "

// Messages of rows whose text depends on the response, in words.
const (
	msgReasonPhrase = "(the status's reason phrase)"
	msgStatusRule   = "(the message of the status's map_status or catalog statuses rule, else the status's reason phrase)"
	msgCodeCatalog  = "(the catalog message of the code for the response's status, else its first)"
)

// rowKey groups the statuses that a client sees alike.
type rowKey struct {
	source, code, own string
	entry             *catalogEntry // the entry whose message is sent
	about             *catalogEntry // the entry that describes the code (type, description)
	phrase, upFirst   bool
}

// contract lists every code a client of h can receive, read from its
// compiled policy: the rows are what the runtime sends. h is compiled.
func (h *Handler) contract(label, server string) handlerContract {
	p := h.policy
	m := p.rules
	hc := handlerContract{
		Label: label, Name: h.Name, Server: server, Catalogs: h.Catalogs, Mode: "rewrite",
		UnknownCodes: "pass", UpstreamMessage: strings.ToLower(h.UpstreamMessage),
		CodePattern: h.CodePattern, RequestID: p.requestID.s != "", ProblemDetails: p.problem, TypeBase: p.typeBase,
	}
	if p.report {
		hc.Mode = "report"
	}
	if p.unknown {
		hc.UnknownCodes = "rewrite"
	}
	if hc.UpstreamMessage == "" {
		hc.UpstreamMessage = "4xx"
	}
	for _, f := range h.Fields {
		hc.Fields = append(hc.Fields, f.Name)
	}

	// Every examined status, as its resolution sends it.
	var rows []*contractError
	byKey := map[rowKey]*contractError{}
	for st := minStatus; st <= maxStatus; st++ {
		if !p.examined.has(st) {
			continue
		}
		res := p.resolution(st)
		k := rowKey{source: res.source, code: res.code, upFirst: p.upstreamOK.has(st), about: m.catalog.entryOr(res.code, st, res.entry)}
		switch {
		case res.own.s != "":
			k.own = p.cleanMessage(res.own.s)
		case res.entry != nil:
			k.entry = res.entry
			if res.source == sourceFallback {
				k.source = sourceCatalog // the fallback code is the catalog's
			}
		default:
			k.phrase = true
		}
		if k.phrase && res.source == sourceFallback {
			k.code = "" // one row per run of fallback statuses
		}
		row := byKey[k]
		if row == nil {
			row = &contractError{Code: k.code, Source: k.source, Message: k.own, UpstreamFirst: k.upFirst, entry: k.entry, phrase: k.phrase}
			if k.entry != nil {
				row.Message, row.Messages = p.entryTexts(k.entry)
				row.UpstreamCodes = mappedTo(k.entry, m)
			}
			row.explain(k.about)
			byKey[k] = row
			rows = append(rows, row)
		}
		row.statuses = append(row.statuses, st)
	}
	// Fallback rows split into runs, each named by its first and last code.
	var split []*contractError
	for _, row := range rows {
		if row.Source != sourceFallback || !row.phrase {
			split = append(split, row)
			continue
		}
		for _, run := range runs(row.statuses) {
			r := *row
			r.statuses = run
			r.Code = m.fallbackCode(run[0])
			if len(run) > 1 {
				r.Code += "…" + m.fallbackCode(run[len(run)-1])
				for _, st := range run {
					r.codes = append(r.codes, m.fallbackCode(st))
				}
			}
			split = append(split, &r)
		}
	}
	rows = split
	for _, row := range rows {
		if row.phrase {
			row.Message = msgReasonPhrase
			if len(row.statuses) == 1 {
				row.Message = reasonPhrase(row.statuses[0])
			}
		}
	}

	// Catalog entries that no status row sends at their own status: the
	// codes their upstream codes (or an upstream's own error_code) give.
	if cat := m.catalog; cat != nil {
		for _, e := range cat.entries {
			if covered(rows, e) {
				continue
			}
			row := &contractError{Code: e.code, Source: sourceCatalog, statuses: []int{e.status}, entry: e}
			row.Message, row.Messages = p.entryTexts(e)
			row.UpstreamCodes = mappedTo(e, m)
			row.explain(e)
			rows = append(rows, row)
		}
	}

	// The handler's own map_code lines, at any status.
	codeRows := map[[2]string]*contractError{}
	for _, r := range h.MapCode {
		key := [2]string{r.ErrorCode, r.ErrorMsg}
		row := codeRows[key]
		if row == nil {
			row = &contractError{Code: r.ErrorCode, Source: sourceMapCode, Message: p.cleanMessage(r.ErrorMsg)}
			es := m.catalog.entriesOf(r.ErrorCode)
			if len(es) == 1 {
				row.explain(es[0])
			}
			row.severalEntries = len(es) > 1
			if row.Message == "" {
				// The upstream's message first, then the code's.
				row.UpstreamFirst = !p.upstreamOK.empty()
				switch {
				case len(es) == 1:
					row.Message, row.Messages = p.entryTexts(es[0])
				case len(es) > 1:
					row.Message = msgCodeCatalog
				default:
					row.Message = msgStatusRule
				}
			}
			codeRows[key] = row
			rows = append(rows, row)
		}
		row.UpstreamCodes = append(row.UpstreamCodes, r.UpstreamCode)
	}

	langs := map[string]bool{}
	for _, row := range rows {
		for l := range row.Messages {
			langs[l] = true
		}
		sort.Ints(row.statuses)
		row.Statuses = []string{}
		for _, run := range runs(row.statuses) {
			row.Statuses = append(row.Statuses, runName(run))
		}
	}
	// By first status, then code; map_code rows, which have none, last.
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i].statuses, rows[j].statuses
		switch {
		case len(a) == 0 || len(b) == 0:
			return len(a) > len(b)
		case a[0] != b[0]:
			return a[0] < b[0]
		}
		return rows[i].Code < rows[j].Code
	})
	hc.handler = h
	hc.Errors = make([]contractError, len(rows))
	for i, row := range rows {
		if row.Type == "" && p.typeBase != "" && len(row.codes) == 0 && !row.severalEntries {
			// A run of fallback codes has a type per code, and a code with
			// several catalog entries the one of the status's: the rows say
			// none of them (the OpenAPI examples say each).
			row.Type = p.typeOf(row.Code)
		}
		hc.Errors[i] = *row
	}
	for l := range langs {
		hc.Languages = append(hc.Languages, l)
	}
	sort.Strings(hc.Languages)
	hc.Digest = hc.digest()
	return hc
}

// explain gives a row the description and problem type of the catalog
// entry that describes its code, if any.
func (row *contractError) explain(e *catalogEntry) {
	if e != nil {
		row.Description, row.Type = e.description, e.typ
	}
}

// mappedTo lists the upstream codes mapped to entry e (and not taken over
// by a map_code line).
func mappedTo(e *catalogEntry, m *errorMap) []string {
	var ups []string
	for _, up := range e.upstreamCodes {
		if m.byCode[up].entry == e {
			ups = append(ups, up)
		}
	}
	return ups
}

// covered reports whether a row already sends entry e at its status.
func covered(rows []*contractError, e *catalogEntry) bool {
	for _, row := range rows {
		if row.entry == e && slices.Contains(row.statuses, e.status) {
			return true
		}
	}
	return false
}

// entryTexts returns an entry's message and its translations by
// language, cleaned as the handler cleans them before it sends them.
func (p *policy) entryTexts(e *catalogEntry) (string, map[string]string) {
	if e.langs == nil {
		return p.cleanMessage(e.texts[0].s), nil
	}
	msgs := map[string]string{}
	for i := 1; i < len(e.texts); i++ {
		msgs[e.langs.names[i]] = p.cleanMessage(e.texts[i].s)
	}
	return p.cleanMessage(e.texts[0].s), msgs
}

// runs splits sorted statuses into runs of consecutive ones.
func runs(statuses []int) [][]int {
	var out [][]int
	for i := 0; i < len(statuses); {
		j := i + 1
		for j < len(statuses) && statuses[j] == statuses[j-1]+1 {
			j++
		}
		out = append(out, statuses[i:j])
		i = j
	}
	return out
}

func runName(run []int) string {
	if len(run) == 1 {
		return fmt.Sprint(run[0])
	}
	return fmt.Sprintf("%d-%d", run[0], run[len(run)-1])
}

// exportJSON writes the contract as one indented JSON document.
func exportJSON(c contract) ([]byte, error) { return indentedJSON(c) }

// indentedJSON encodes v for people to read: indented, with <, > and &
// as they are.
func indentedJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(v)
	return buf.Bytes(), err
}

// exportMarkdown writes a table per handler, ready for an API's docs.
func exportMarkdown(c contract) []byte {
	var b bytes.Buffer
	b.WriteString("# Error codes\n")
	for _, hc := range c.Handlers {
		fmt.Fprintf(&b, "\n## %s\n\n", mdCell(hc.Label))
		b.WriteString(hc.intro())
		fmt.Fprintf(&b, "\n\nContract digest: `%s`.", hc.Digest)
		b.WriteString("\n\n| Status | Code | Message |")
		for _, l := range hc.Languages {
			fmt.Fprintf(&b, " %s |", mdCell(l))
		}
		b.WriteString(" Description | Source | Upstream codes |\n|---|---|---|")
		b.WriteString(strings.Repeat("---|", len(hc.Languages)))
		b.WriteString("---|---|---|\n")
		for _, e := range hc.Errors {
			fmt.Fprintf(&b, "| %s | `%s` | %s |", e.statusList(), mdCell(e.Code), mdCell(e.shownMessage()))
			for _, l := range hc.Languages {
				fmt.Fprintf(&b, " %s |", mdCell(e.Messages[l]))
			}
			var ups []string
			for _, u := range e.UpstreamCodes {
				ups = append(ups, "`"+mdCell(u)+"`")
			}
			fmt.Fprintf(&b, " %s | %s | %s |\n", mdCell(e.Description), e.Source, strings.Join(ups, ", "))
		}
	}
	return b.Bytes()
}

// intro says in words what every error of a handler is, for people: the
// members, the mode, and where messages and codes may come from. Member
// names are in backticks.
func (hc *handlerContract) intro() string {
	members := []string{"`error_msg`", "`error_code`"}
	if hc.RequestID {
		members = append(members, "`request_id`")
	}
	for _, f := range hc.Fields {
		members = append(members, "`"+strings.ReplaceAll(f, "`", "'")+"`")
	}
	var b strings.Builder
	last := len(members) - 1
	fmt.Fprintf(&b, "Every error is a JSON object with the members %s and %s.", strings.Join(members[:last], ", "), members[last])
	if hc.Mode == "report" {
		b.WriteString(" This handler is in report mode: it changes no response, and the table says what it would send.")
	}
	if hc.UnknownCodes == "pass" {
		b.WriteString(" Backends may also send codes of their own, with their own messages.")
	} else {
		b.WriteString(" No other codes are sent.")
	}
	if hc.UpstreamMessage != "none" {
		fmt.Fprintf(&b, " A message that starts \"%s\" is replaced by the upstream's own when its error body has one (upstream_message %s).", strings.TrimSpace(upstreamFirstWords), hc.UpstreamMessage)
	}
	b.WriteString(" An upstream code listed in a catalog row gets the row's code, with the catalog's message of that code for the response's status.")
	return b.String()
}

// statusList is a row's statuses for people: "400, 405-408", or "any".
func (e *contractError) statusList() string {
	if len(e.Statuses) == 0 {
		return "any"
	}
	return strings.Join(e.Statuses, ", ")
}

// shownMessage is a row's message for people, saying when an upstream's
// own message comes first.
func (e *contractError) shownMessage() string {
	if e.UpstreamFirst {
		return upstreamFirstWords + e.Message
	}
	return e.Message
}

// mdCell makes text safe inside a Markdown table cell.
func mdCell(s string) string {
	s = strings.NewReplacer("|", `\|`, "\r", " ", "\n", " ", "`", "'").Replace(s)
	return s
}

// exportOpenAPI writes an OpenAPI 3.1 document whose components hold, per
// handler, the envelope schema and one response per status (or run of
// statuses) with a named example per code.
func exportOpenAPI(c contract) ([]byte, error) {
	schemas := map[string]any{}
	responses := map[string]any{}
	for _, hc := range c.Handlers {
		prefix := componentName(hc.Label)
		schemaName := prefix + ".Envelope"
		codeSchema := map[string]any{"type": "string", "minLength": 1}
		if hc.UnknownCodes == "rewrite" {
			var codes []string
			seen := map[string]bool{}
			for _, e := range hc.Errors {
				if !seen[e.Code] {
					seen[e.Code] = true
					codes = append(codes, e.Code)
				}
			}
			codeSchema["enum"] = codes
		} else if hc.CodePattern != "" {
			codeSchema["pattern"] = hc.CodePattern
		}
		props := map[string]any{
			"error_msg":  map[string]any{"type": "string", "minLength": 1, "description": "What went wrong, for people."},
			"error_code": codeSchema,
		}
		required := []string{"error_msg", "error_code"}
		if hc.RequestID {
			props["request_id"] = map[string]any{"type": "string", "description": "The request's ID, also in the X-Request-Id header."}
			required = append(required, "request_id")
		}
		for _, f := range hc.Fields {
			props[f] = map[string]any{"type": "string"}
			required = append(required, f)
		}
		schemas[schemaName] = map[string]any{
			"type": "object", "required": required, "properties": props,
			"description": "The error envelope of " + hc.Label + ".",
		}
		ref := map[string]any{"$ref": "#/components/schemas/" + schemaName}
		problemName := prefix + ".Problem"
		problemRef := map[string]any{"$ref": "#/components/schemas/" + problemName}
		for _, sr := range hc.handler.policy.responses(hc.handler) {
			content := map[string]any{}
			examples := map[string]any{}
			content["application/json"] = map[string]any{"schema": ref, "examples": examples}
			var problems map[string]any
			if hc.ProblemDetails {
				problems = map[string]any{}
				content[problemType] = map[string]any{"schema": problemRef, "examples": problems}
			}
			for _, x := range sr.examples {
				ex := map[string]any{"summary": x.summary, "value": json.RawMessage(x.envelope)}
				if x.description != "" {
					ex["description"] = x.description
				}
				examples[x.name] = ex
				if problems != nil {
					pex := map[string]any{"summary": x.summary, "value": json.RawMessage(x.problem)}
					if x.description != "" {
						pex["description"] = x.description
					}
					problems[x.name] = pex
				}
			}
			resp := map[string]any{"description": reasonPhrase(sr.status), "content": content}
			if hc.RequestID {
				resp["headers"] = map[string]any{"X-Request-Id": map[string]any{
					"description": "The request's ID, as in the body's request_id.",
					"schema":      map[string]any{"type": "string"},
				}}
			}
			responses[prefix+"."+strconv.Itoa(sr.status)] = resp
		}
		if hc.ProblemDetails {
			schemas[problemName] = map[string]any{
				"allOf": []any{ref, map[string]any{
					"type":     "object",
					"required": []string{"type", "title", "status", "detail"},
					"properties": map[string]any{
						"type":   map[string]any{"type": "string", "format": "uri-reference"},
						"title":  map[string]any{"type": "string"},
						"status": map[string]any{"type": "integer", "minimum": minStatus, "maximum": maxStatus},
						"detail": map[string]any{"type": "string"},
					},
				}},
				"description": "RFC 9457 problem details with the envelope's members, for clients that prefer application/problem+json.",
			}
		}
	}
	digests := map[string]string{}
	for _, hc := range c.Handlers {
		digests[hc.Label] = hc.Digest
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Error responses",
			"version":     "1.0.0",
			"description": "The errors the gateway sends, generated by `caddy error-catalog` from its configuration.",
			// Each handler's contract digest, by label (SPEC §16.2).
			"x-contract-digests": digests,
		},
		"components": map[string]any{"schemas": schemas, "responses": responses},
	}
	return indentedJSON(doc)
}

// componentName makes a label fit OpenAPI's component names
// (^[a-zA-Z0-9.\-_]+$).
func componentName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}
