package errenvelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

// caddyArgsEnv, when set, makes the test binary run the caddy command
// with these arguments (one per line) instead of the tests: a real Caddy
// process for configs that must run exactly as written.
const caddyArgsEnv = "ERRENVELOPE_TEST_CADDY_ARGS"

// runCaddyIfAsked is called first in TestMain.
func runCaddyIfAsked() {
	if args := os.Getenv(caddyArgsEnv); args != "" {
		os.Args = append([]string{"caddy"}, strings.Split(args, "\n")...)
		caddycmd.Main() // exits on failure
		os.Exit(0)
	}
}

// caddyProcess is the caddy command (this test binary, with the module)
// with args, to run in dir.
func caddyProcess(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), caddyArgsEnv+"="+strings.Join(args, "\n"))
	return cmd
}

// startCaddy runs the caddy command (this test binary, with the module)
// with args, in dir, until the test ends; its output is logged when the
// test fails.
func startCaddy(t *testing.T, dir string, args ...string) {
	t.Helper()
	startCaddyEnv(t, dir, nil, args...)
}

// startCaddyEnv is startCaddy with env added to the process's environment.
func startCaddyEnv(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	cmd := caddyProcess(t, dir, args...)
	cmd.Env = append(cmd.Env, env...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("caddy's output:\n%s", logs.String())
		}
	})
}

// getUntilUp fetches url, waiting up to 10 s for a server that is still
// starting, and returns the response and its body.
func getUntilUp(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return doUntilUp(t, req)
}

// doUntilUp sends req (one without a body) until Caddy answers it.
func doUntilUp(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	var res *http.Response
	var err error
	for i := 0; ; i++ {
		res, err = http.DefaultClient.Do(req)
		if err == nil || i == 100 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("caddy does not answer: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, body
}

// caddyCommand runs the caddy command (this test binary, with the
// module) with args, in dir, and returns its output and exit code.
func caddyCommand(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	out, err := caddyProcess(t, dir, args...).CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// docBlock returns the first fenced block of the given language after the
// heading line (or any whole line) of the Markdown file (README.md, or a
// page under docs/).
func docBlock(t *testing.T, file, heading, lang string) string {
	t.Helper()
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut("\n"+string(doc), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s has no line %q", file, heading)
	}
	_, rest, ok = strings.Cut(rest, "\n```"+lang+"\n")
	if !ok {
		t.Fatalf("%s's %q has no %s block", file, heading, lang)
	}
	block, _, ok := strings.Cut(rest, "\n```\n")
	if !ok {
		t.Fatalf("%s's %q block is not closed", file, heading)
	}
	return block + "\n"
}

// TestREADMEJSONConfig runs the complete JSON config of docs/deployment.md
// exactly as written, with `caddy run --config`, in front of a backend on the port it
// names, and checks what a user would see.
func TestREADMEJSONConfig(t *testing.T) {
	block := docBlock(t, "docs/deployment.md", "## JSON config", "json")
	// "With every option set (but inline_catalogs)": every member of the
	// handler, as the module's JSON names them.
	var config any
	if err := json.Unmarshal([]byte(block), &config); err != nil {
		t.Fatal(err)
	}
	var set []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["handler"] == "error_envelope" {
				set = slices.AppendSeq(set, maps.Keys(v))
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(config)
	ht := reflect.TypeFor[Handler]()
	for i := range ht.NumField() {
		name, _, _ := strings.Cut(ht.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" && name != "inline_catalogs" && !slices.Contains(set, name) {
			t.Errorf("docs/deployment.md's JSON config, \"with every option set\", does not set %q", name)
		}
	}
	cfg := filepath.Join(t.TempDir(), "caddy.json")
	if err := os.WriteFile(cfg, []byte(block), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:8081")
	if err != nil {
		t.Fatalf("the example's backend port: %v", err)
	}
	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/users/8" { // a backend that leaks
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"message":"pq: relation \"users\" does not exist"}`)
			return
		}
		if r.URL.Path == "/users/9" {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "ticket INT-123456: dial tcp 10.0.0.5:5432: connect: connection refused")
			return
		}
		if r.URL.Path == "/users/7" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"code":"USER_NOT_FOUND","message":"no user 7"}`)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "<h1>Not Found</h1>")
	})}
	go func() { _ = backend.Serve(ln) }()
	defer backend.Close()

	startCaddy(t, "", "run", "--config", cfg)
	get := func(p string) (int, map[string]string, http.Header) {
		t.Helper()
		res, body := getUntilUp(t, "http://127.0.0.1:8080"+p)
		return res.StatusCode, checkEnvelope(t, body, "request_id", "service"), res.Header
	}
	for _, tt := range []struct {
		path, msg, code string
		status          int
	}{
		{"/users/7", "User not found.", "IAM.0404", 404},
		{"/nowhere", "API not found.", "APIG.0101", 404},
	} {
		status, env, hdr := get(tt.path)
		if status != tt.status || env["error_msg"] != tt.msg || env["error_code"] != tt.code || env["service"] != "gateway" ||
			env["request_id"] == "" || hdr.Get("X-Request-Id") != env["request_id"] {
			t.Errorf("%s: %d %v %v, want %d %q %q", tt.path, status, env, hdr, tt.status, tt.msg, tt.code)
		}
	}
	// Scrubbed: an SQL error withheld, a ticket and an address replaced.
	if _, env, _ := get("/users/8"); env["error_msg"] != "API request error." {
		t.Errorf("/users/8: error_msg %q, want the SQL error withheld for the catalog's message of 409", env["error_msg"])
	}
	if _, env, _ := get("/users/9"); env["error_msg"] != "ticket [ticket]: dial tcp [REDACTED]: connect: connection refused" {
		t.Errorf("/users/9: error_msg %q, want the ticket and the address replaced", env["error_msg"])
	}
	backend.Close()
	status, env, _ := get("/users/7")
	if want := fmt.Sprint(map[string]string{"error_msg": "Backend unavailable.", "error_code": "APIG.0201", "service": "gateway", "request_id": env["request_id"]}); status != 502 || fmt.Sprint(env) != want {
		t.Errorf("backend down: %d %v, want 502 %s", status, env, want)
	}
}

// TestREADMEExport: the catalog example of docs/catalog.md, its error
// message for a typo, and the export it shows in three formats are what
// the tool prints for them.
func TestREADMEExport(t *testing.T) {
	catalog := docBlock(t, "docs/catalog.md", "## The file", "yaml")
	site := docBlock(t, "docs/catalog.md", "# Error catalogs", "caddyfile")
	typoError := strings.TrimSpace(docBlock(t, "docs/catalog.md", "Had the `ORD.0404` entry above `upstream_code: [NF]` where its `statuses` line is:", ""))
	mdShown := docBlock(t, "docs/catalog.md", "`--format markdown`, a table per handler, ready for an API's docs:", "markdown")
	jsonShown := docBlock(t, "docs/catalog.md", "`--format json` (the default), one document for machines (abridged: two of its rows):", "json")
	openapiShown := docBlock(t, "docs/catalog.md", "placeholders stay as written), with the `X-Request-Id` header when `request_id` is on (abridged):", "json")
	t.Chdir(t.TempDir())
	if err := os.Mkdir("catalogs", 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	typo := strings.Replace(catalog, `    statuses: ["404"]             # each acts as a map_status rule to this entry`, "    upstream_code: [NF]", 1)
	if typo == catalog {
		t.Fatal("docs/catalog.md's catalog has no statuses line to break")
	}
	writeFile("catalogs/orders.yaml", typo)
	_, err := loadCatalogs([]string{"catalogs/orders.yaml"})
	if want := typoError; err == nil || err.Error() != want {
		t.Errorf("a typo in docs/catalog.md's catalog gives\n%v\nthe page says\n%s", err, want)
	}

	writeFile("catalogs/orders.yaml", catalog)
	writeFile("Caddyfile", site)
	md, err := errorCatalog("Caddyfile", "", "markdown")
	if err != nil {
		t.Fatal(err)
	}
	if want := mdShown; string(md) != want {
		t.Errorf("caddy error-catalog --format markdown prints\n%s\ndocs/catalog.md shows\n%s", md, want)
	}

	js, err := errorCatalog("Caddyfile", "", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got, shown struct {
		Handlers []map[string]json.RawMessage `json:"handlers"`
	}
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(jsonShown), &shown); err != nil {
		t.Fatal(err)
	}
	compact := func(raw json.RawMessage) string {
		var b bytes.Buffer
		_ = json.Compact(&b, raw)
		return b.String()
	}
	for k, v := range shown.Handlers[0] {
		if k == "errors" {
			continue
		}
		if compact(got.Handlers[0][k]) != compact(v) {
			t.Errorf("docs/catalog.md's JSON says %s: %s, the tool %s", k, compact(v), compact(got.Handlers[0][k]))
		}
	}
	var gotRows, shownRows []json.RawMessage
	_ = json.Unmarshal(got.Handlers[0]["errors"], &gotRows)
	_ = json.Unmarshal(shown.Handlers[0]["errors"], &shownRows)
	for _, row := range shownRows {
		found := false
		for _, g := range gotRows {
			found = found || compact(g) == compact(row)
		}
		if !found {
			t.Errorf("docs/catalog.md's JSON row %s is not in the tool's output", compact(row))
		}
	}

	oa, err := errorCatalog("Caddyfile", "", "openapi")
	if err != nil {
		t.Fatal(err)
	}
	type examples struct {
		Components struct {
			Responses map[string]struct {
				Content map[string]struct {
					Examples map[string]json.RawMessage `json:"examples"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"components"`
	}
	var gotDoc, shownDoc examples
	_ = json.Unmarshal(oa, &gotDoc)
	if err := json.Unmarshal([]byte(openapiShown), &shownDoc); err != nil {
		t.Fatal(err)
	}
	for name, resp := range shownDoc.Components.Responses {
		for mt, c := range resp.Content {
			for ex, v := range c.Examples {
				if g := gotDoc.Components.Responses[name].Content[mt].Examples[ex]; compact(g) != compact(v) {
					t.Errorf("docs/catalog.md's OpenAPI example %s %s is\n%s\nthe tool's\n%s", name, ex, compact(v), compact(g))
				}
			}
		}
	}
}

// TestREADMEScrubbing: the scrubbing example of docs/scrubbing.md scrubs
// its sample text as the page says, and the leak-finding recipe of
// docs/observability.md adapts.
func TestREADMEScrubbing(t *testing.T) {
	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(docBlock(t, "docs/scrubbing.md", "# Scrubbing secrets and internals", "caddyfile"))); err != nil {
		t.Fatal(err)
	}
	if err := h.compile(); err != nil {
		t.Fatal(err)
	}
	const in, want = "ticket INT-123456 for acct-991 from 10.0.0.5 failed", "ticket [ticket] for [REDACTED] from [REDACTED] failed"
	page, _ := os.ReadFile("docs/scrubbing.md")
	if !strings.Contains(string(page), "`"+in+"` reaches the client as\n`"+want+"`") {
		t.Fatalf("docs/scrubbing.md no longer shows %q becoming %q", in, want)
	}
	if got, _ := h.policy.scrub.scrub(in, h.policy.scrub.on); got != want {
		t.Errorf("docs/scrubbing.md's example scrubs %q to %q, the page says %q", in, got, want)
	}
	recipe := docBlock(t, "docs/observability.md", "## Finding backends that leak", "caddyfile")
	if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(recipe), nil); err != nil {
		t.Errorf("the leak-finding recipe does not adapt: %v", err)
	}
}

// docFence is one fenced block of a Markdown page.
type docFence struct {
	line int      // of its opening fence
	info []string // its info string's words: the language first
	text string   // its lines, without the fence's indentation
}

// docPage is a Markdown page: its fenced blocks, and its lines outside
// them (with their numbers), where headings and links are.
type docPage struct {
	fences []docFence
	prose  map[int]string
}

// readDocPage splits a Markdown page into its fenced blocks and the rest.
func readDocPage(t *testing.T, file string) docPage {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	page := docPage{prose: map[int]string{}}
	var open *docFence
	indent := ""
	var text []string
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case open == nil && strings.HasPrefix(trimmed, "```"):
			open = &docFence{line: i + 1, info: strings.Fields(strings.TrimPrefix(trimmed, "```"))}
			indent, text = line[:len(line)-len(trimmed)], nil
		case open != nil && strings.TrimSpace(line) == "```":
			open.text = strings.Join(text, "\n") + "\n"
			page.fences = append(page.fences, *open)
			open = nil
		case open != nil:
			text = append(text, strings.TrimPrefix(line, indent))
		default:
			page.prose[i+1] = line
		}
	}
	if open != nil {
		t.Errorf("%s:%d: the fenced block is not closed", file, open.line)
	}
	return page
}

// headings are the page's headings (without their #s), by line.
func (p docPage) headings() map[int]string {
	out := map[int]string{}
	for n, line := range p.prose {
		if h, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " "); ok && strings.HasPrefix(line, "#") {
			out[n] = h
		}
	}
	return out
}

// gitHubAnchor is the anchor GitHub gives a heading's text: lower case,
// spaces to '-', every other character but letters, digits, '-' and '_'
// removed.
func gitHubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// caddyfileOfExample is a Caddyfile block as it is adapted: a fragment
// that starts with a directive (error_envelope, route, …) rather than a
// site address or global options is put into a site first.
func caddyfileOfExample(block string) string {
	for line := range strings.SplitSeq(block, "\n") {
		words := strings.Fields(line)
		if len(words) == 0 || strings.HasPrefix(words[0], "#") {
			continue
		}
		if first := words[0]; first == "{" || strings.ContainsAny(first, ".:/") || strings.HasPrefix(first, "localhost") {
			return block
		}
		return ":8080 {\n" + block + "}\n"
	}
	return block
}

// shellCommands splits a shell command line into its simple commands'
// words, quotes removed, at |, ;, & and newlines; a comment and the
// target of a redirection are left out.
func shellCommands(line string) [][]string {
	var cmds [][]string
	var words []string
	var word strings.Builder
	inWord, quote, redirect := false, rune(0), false
	endWord := func() {
		if inWord {
			if !redirect {
				words = append(words, word.String())
			}
			redirect = false
		}
		word.Reset()
		inWord = false
	}
	endCommand := func() {
		endWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
	}
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			word.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '#' && !inWord:
			endCommand()
			return cmds
		case r == ' ' || r == '\t':
			endWord()
		case r == '|' || r == ';' || r == '&' || r == '\n':
			endCommand()
		case r == '>' || r == '<':
			if inWord && strings.Trim(word.String(), "0123456789") == "" {
				word.Reset() // 2>…: the descriptor
				inWord = false
			}
			endWord()
			redirect = true
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	endCommand()
	return cmds
}

var (
	catalogYAML   = regexp.MustCompile(`(?m)^errors:`)             // a yaml block that is a catalog
	envAssignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`) // VAR=value before a command
)

// TestDocsExamples checks every fenced block of README.md and docs/*.md,
// naming a failing one by file and line: a caddyfile block adapts (one
// marked `caddyfile syntax` is the directive's grammar, not an example);
// a json block is JSON, a config (with "apps") decodes strictly into
// Caddy's config and each of its handlers into its module, an
// error_envelope handler compiling as Provision compiles it (catalogs,
// inline ones included), and a catalog (with "errors") loads; a yaml
// catalog loads; a sh or console command line that runs caddy names a
// subcommand and its flags, one that runs go test names existing tests,
// make a target of its makefile, bash a file. go blocks are TestGRPC's,
// and other languages are samples. Every relative link leads to a file,
// and to a heading of it.
func TestDocsExamples(t *testing.T) {
	pages, err := filepath.Glob("docs/*.md")
	if err != nil || len(pages) < 5 {
		t.Fatalf("docs/*.md: %v %v", pages, err)
	}
	pages = append([]string{"README.md"}, pages...)

	var funcs []string // the package's Test, Fuzz and Benchmark functions
	tests, _ := filepath.Glob("*_test.go")
	funcRE := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark)\w*)\(\w+ \*testing\.[TFB]\)`)
	for _, f := range tests {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range funcRE.FindAllStringSubmatch(string(src), -1) {
			funcs = append(funcs, m[1])
		}
	}
	matching := func(expr, prefix string) (int, error) {
		re, err := regexp.Compile(expr)
		if err != nil {
			return 0, err
		}
		n := 0
		for _, f := range funcs {
			if strings.HasPrefix(f, prefix) && re.MatchString(f) {
				n++
			}
		}
		return n, nil
	}
	makefile, err := os.ReadFile("xcaddy.mk")
	if err != nil {
		t.Fatal(err)
	}

	seen := map[string]int{}
	anchors := map[string]map[string]bool{}
	parsed := map[string]docPage{}
	for _, file := range pages {
		page := readDocPage(t, file)
		parsed[file] = page
		anchors[file] = map[string]bool{}
		headings := page.headings()
		for _, n := range slices.Sorted(maps.Keys(headings)) {
			a := gitHubAnchor(headings[n])
			if anchors[file][a] {
				t.Errorf("%s:%d: heading %q is not unique (#%s)", file, n, headings[n], a)
			}
			anchors[file][a] = true
		}

		for _, b := range page.fences {
			where := fmt.Sprintf("%s:%d", file, b.line)
			lang := ""
			if len(b.info) > 0 {
				lang = b.info[0]
			}
			switch lang {
			case "caddyfile":
				if len(b.info) > 1 && b.info[1] == "syntax" {
					seen["caddyfile syntax"]++
					continue
				}
				seen[lang]++
				if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfileOfExample(b.text)), nil); err != nil {
					t.Errorf("%s: the caddyfile block does not adapt: %v", where, err)
				}
			case "json":
				seen[lang]++
				checkDocJSON(t, where, b.text, seen)
			case "yaml", "yml":
				seen[lang]++
				if !catalogYAML.MatchString(b.text) {
					continue
				}
				seen["catalog"]++
				path := filepath.Join(t.TempDir(), "catalog.yaml")
				if err := os.WriteFile(path, []byte(b.text), 0o600); err != nil {
					t.Fatal(err)
				}
				if _, err := loadCatalogs([]string{path}); err != nil {
					t.Errorf("%s: the catalog does not load: %v", where, err)
				}
			case "sh", "console":
				seen[lang]++
				text := strings.ReplaceAll(b.text, "\\\n", " ")
				for line := range strings.SplitSeq(text, "\n") {
					if lang == "console" {
						var ok bool
						if line, ok = strings.CutPrefix(line, "$ "); !ok {
							continue // output
						}
					}
					for _, words := range shellCommands(line) {
						for len(words) > 0 && envAssignment.MatchString(words[0]) {
							words = words[1:] // VAR=value
						}
						if len(words) == 0 {
							continue
						}
						checkDocCommand(t, where, words, matching, string(makefile), seen)
					}
				}
			default:
				seen["other"]++
			}
		}
	}

	// Links: every relative one leads to a file, and to a heading of it.
	linkRE := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	codeRE := regexp.MustCompile("`[^`]*`")
	for _, file := range pages {
		for n, line := range parsed[file].prose {
			for _, m := range linkRE.FindAllStringSubmatch(codeRE.ReplaceAllString(line, ""), -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				seen["link"]++
				path, anchor, _ := strings.Cut(target, "#")
				if path == "" {
					path = file
				} else {
					path = filepath.Join(filepath.Dir(file), path)
				}
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s:%d: link %s: %v", file, n, target, err)
					continue
				}
				if anchor == "" {
					continue
				}
				path = filepath.ToSlash(path)
				if _, ok := anchors[path]; !ok { // a page outside README.md and docs/
					anchors[path] = map[string]bool{}
					for _, h := range readDocPage(t, path).headings() {
						anchors[path][gitHubAnchor(h)] = true
					}
				}
				if !anchors[path][anchor] {
					t.Errorf("%s:%d: link %s: %s has no heading #%s", file, n, target, path, anchor)
				}
			}
		}
	}

	t.Logf("checked: %v", seen)
	for kind, least := range map[string]int{
		"caddyfile": 15, "caddyfile syntax": 1, "json": 7, "config": 2, "handler": 4, "catalog": 3,
		"yaml": 2, "sh": 6, "caddy command": 5, "go test command": 4, "link": 30,
	} {
		if seen[kind] < least {
			t.Errorf("checked %d %s blocks, commands or links; the docs have at least %d", seen[kind], kind, least)
		}
	}
}

// checkDocJSON checks a json block of the docs: JSON; a Caddy config,
// decoded strictly, with each handler decoded strictly into its module
// (an error_envelope handler also compiled, catalogs read); a catalog,
// loaded.
func checkDocJSON(t *testing.T, where, text string, seen map[string]int) {
	t.Helper()
	var top map[string]any
	if err := json.Unmarshal([]byte(text), &top); err != nil {
		if !json.Valid([]byte(text)) {
			t.Errorf("%s: the json block is not JSON: %v", where, err)
		}
		return
	}
	if _, ok := top["apps"]; ok {
		seen["config"]++
		var cfg caddy.Config
		if err := caddy.StrictUnmarshalJSON([]byte(text), &cfg); err != nil {
			t.Errorf("%s: not a Caddy config: %v", where, err)
		}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case []any:
				for _, e := range v {
					walk(e)
				}
			case map[string]any:
				for _, e := range v {
					walk(e)
				}
				name, ok := v["handler"].(string)
				if !ok {
					return
				}
				seen["handler"]++
				info, err := caddy.GetModule("http.handlers." + name)
				if err != nil {
					t.Errorf("%s: handler %q: %v", where, name, err)
					return
				}
				fields := maps.Clone(v)
				delete(fields, "handler")
				raw, _ := json.Marshal(fields)
				mod := info.New()
				if err := caddy.StrictUnmarshalJSON(raw, mod); err != nil {
					t.Errorf("%s: handler %q: %v", where, name, err)
					return
				}
				if h, ok := mod.(*Handler); ok {
					if err := h.compile(); err != nil {
						t.Errorf("%s: handler %q: %v", where, name, err)
					}
				}
			}
		}
		walk(top)
	}
	if _, ok := top["errors"].([]any); ok {
		seen["catalog"]++
		path := filepath.Join(t.TempDir(), "catalog.json")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadCatalogs([]string{path}); err != nil {
			t.Errorf("%s: the catalog does not load: %v", where, err)
		}
	}
}

// checkDocCommand checks one command of a sh or console block of the
// docs: caddy's subcommand and flags, go test's tests, make's target,
// bash's file.
func checkDocCommand(t *testing.T, where string, words []string, matching func(expr, prefix string) (int, error), makefile string, seen map[string]int) {
	t.Helper()
	switch {
	case words[0] == "caddy" || strings.HasSuffix(words[0], "/caddy"):
		seen["caddy command"]++
		if len(words) < 2 {
			t.Errorf("%s: %q names no subcommand", where, strings.Join(words, " "))
			return
		}
		sub, ok := caddycmd.Commands()[words[1]]
		if !ok {
			t.Errorf("%s: caddy has no subcommand %q", where, words[1])
			return
		}
		cmd := &cobra.Command{Use: sub.Name}
		if sub.CobraFunc != nil {
			sub.CobraFunc(cmd)
		} else if sub.Flags != nil {
			cmd.Flags().AddGoFlagSet(sub.Flags)
		}
		if err := cmd.ParseFlags(words[2:]); err != nil {
			t.Errorf("%s: caddy %s: %v", where, words[1], err)
		}
	case words[0] == "go" && len(words) > 1 && words[1] == "test":
		seen["go test command"]++
		for i := 2; i+1 < len(words); i++ {
			prefix := map[string]string{"-run": "", "-fuzz": "Fuzz", "-bench": "Benchmark"}
			p, ok := prefix[words[i]]
			if !ok || words[i+1] == "^$" {
				continue
			}
			expr := words[i+1]
			alts := []string{expr} // each of ^(A|B)$'s names, else the whole
			if inner, ok := strings.CutPrefix(expr, "^("); ok {
				if inner, ok = strings.CutSuffix(inner, ")$"); ok {
					alts = nil
					for _, a := range strings.Split(inner, "|") {
						alts = append(alts, "^"+a+"$")
					}
				}
			} else if words[i] == "-run" {
				alts = strings.Split(expr, "|")
			}
			for _, a := range alts {
				n, err := matching(strings.Split(a, "/")[0], p)
				if err != nil || n == 0 || (words[i] == "-fuzz" && n != 1) {
					t.Errorf("%s: go test %s %q: %q matches %d of the package's functions (%v)", where, words[i], expr, a, n, err)
				}
			}
		}
	case words[0] == "make":
		for i := 1; i < len(words); i++ {
			if words[i] == "-f" {
				i++
				continue
			}
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(words[i]) + `:`).MatchString(makefile) {
				t.Errorf("%s: xcaddy.mk has no target %q", where, words[i])
			}
		}
	case words[0] == "bash" && len(words) > 1:
		if _, err := os.Stat(words[1]); err != nil {
			t.Errorf("%s: bash %s: %v", where, words[1], err)
		}
	}
}

// TestREADMEDemo runs README.md's demo as a newcomer would: Caddyfile.example
// in a real Caddy, and each curl line of the console block sent as curl
// sends it. What the block shows must be what comes back: the status line,
// every header shown (all of them, unless a line "…" says some are left
// out; a Date and a request ID match any), and the body, where "…" and a
// request ID match any text.
func TestREADMEDemo(t *testing.T) {
	block := docBlock(t, "README.md", "## Building", "console")
	startCaddy(t, ".", "run", "--config", "Caddyfile.example")
	getUntilUp(t, "http://localhost:8080/ok")

	uuid := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	var ran int
	for _, part := range strings.Split("\n"+block, "\n$ ")[1:] {
		command, shown, _ := strings.Cut(part, "\n")
		command, _, _ = strings.Cut(command, "   #") // the comment
		command = strings.TrimSpace(command)
		args := shellWords(t, command)
		if args[0] != "curl" {
			continue // ./caddy error-catalog: TestDocsExamples checks it names what exists
		}
		req, include := curlRequest(t, args[1:])
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", command, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		ran++

		shown = strings.TrimRight(shown, "\n")
		if include {
			head, shownBody, _ := strings.Cut(shown, "\n\n")
			lines := strings.Split(head, "\n")
			if got := res.Proto + " " + res.Status; got != lines[0] {
				t.Errorf("%s: %s, README shows %s", command, got, lines[0])
			}
			var names []string
			some := false
			for _, line := range lines[1:] {
				if line == "…" {
					some = true
					continue
				}
				name, value, _ := strings.Cut(line, ": ")
				names = append(names, http.CanonicalHeaderKey(name))
				got := res.Header.Get(name)
				if got != "" && (name == "Date" || uuid.MatchString(value)) {
					got = value // present: any value
				}
				if got != value {
					t.Errorf("%s: %s: %q, README shows %q", command, name, got, value)
				}
			}
			if !some {
				for name := range res.Header {
					if !slices.Contains(names, name) {
						t.Errorf("%s: header %s: %q, which README does not show", command, name, res.Header.Get(name))
					}
				}
			}
			shown = shownBody
		}
		pattern := regexp.QuoteMeta(shown)
		pattern = uuid.ReplaceAllString(pattern, uuid.String())
		pattern = strings.ReplaceAll(pattern, "…", `[^"]*`)
		if !regexp.MustCompile(`^` + pattern + `$`).Match(body) {
			t.Errorf("%s:\n%s\nREADME shows\n%s", command, body, shown)
		}
	}
	if ran < 10 {
		t.Errorf("%d curl lines run from README.md's demo, want its 10", ran)
	}
}

// shellWords splits a command line as sh does, for words in single quotes
// and plain words.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	for line != "" {
		var w string
		if line[0] == '\'' {
			end := strings.IndexByte(line[1:], '\'')
			if end < 0 {
				t.Fatalf("unclosed quote in %q", line)
			}
			w, line = line[1:end+1], line[end+2:]
		} else {
			w, line, _ = strings.Cut(line, " ")
		}
		words = append(words, w)
		line = strings.TrimLeft(line, " ")
	}
	return words
}

// curlRequest is the request curl sends for args (-i, -s and -H only),
// and whether it prints the response's header (-i).
func curlRequest(t *testing.T, args []string) (*http.Request, bool) {
	t.Helper()
	var include bool
	var header []string
	var target string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-i":
			include = true
		case "-s":
		case "-H":
			i++
			header = append(header, args[i])
		default:
			if strings.HasPrefix(args[i], "-") || target != "" {
				t.Fatalf("curl %q: the test knows -i, -s, -H and one URL", args)
			}
			target = args[i]
		}
	}
	req, err := http.NewRequest(http.MethodGet, "http://"+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "curl/7.88.1")
	req.Header.Set("Accept", "*/*")
	for _, h := range header {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	return req, include
}
