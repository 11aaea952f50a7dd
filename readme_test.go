package errenvelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
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
	var res *http.Response
	var err error
	for i := 0; ; i++ {
		res, err = http.Get(url)
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

// readmeBlock returns the first fenced block of the given language after
// the README heading.
func readmeBlock(t *testing.T, heading, lang string) string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no heading %q", heading)
	}
	_, rest, ok = strings.Cut(rest, "\n```"+lang+"\n")
	if !ok {
		t.Fatalf("README's %q has no %s block", heading, lang)
	}
	block, _, ok := strings.Cut(rest, "\n```\n")
	if !ok {
		t.Fatalf("README's %q block is not closed", heading)
	}
	return block + "\n"
}

// TestREADMEJSONConfig runs the README's complete JSON config exactly as
// written, with `caddy run --config`, in front of a backend on the port it
// names, and checks what a user would see.
func TestREADMEJSONConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "caddy.json")
	if err := os.WriteFile(cfg, []byte(readmeBlock(t, "## JSON config", "json")), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:8081")
	if err != nil {
		t.Fatalf("the README's backend port: %v", err)
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

// TestREADMEExport: the README's catalog example, its error message for
// a typo, and the export it shows in three formats are what the tool
// prints for them.
func TestREADMEExport(t *testing.T) {
	catalog := readmeBlock(t, "### The file", "yaml")
	site := readmeBlock(t, "## Error catalogs", "caddyfile")
	typoError := strings.TrimSpace(readmeBlock(t, "Had the `ORD.0404` entry above `upstream_code: [NF]` where its `statuses` line is:", ""))
	mdShown := readmeBlock(t, "`--format markdown`, a table per handler, ready for an API's docs:", "markdown")
	jsonShown := readmeBlock(t, "`--format json` (the default), one document for machines (abridged: two of its rows):", "json")
	openapiShown := readmeBlock(t, "placeholders stay as written), with the `X-Request-Id` header when `request_id` is on (abridged):", "json")
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
		t.Fatal("the README's catalog has no statuses line to break")
	}
	writeFile("catalogs/orders.yaml", typo)
	_, err := loadCatalogs([]string{"catalogs/orders.yaml"})
	if want := typoError; err == nil || err.Error() != want {
		t.Errorf("a typo in the README's catalog gives\n%v\nthe README says\n%s", err, want)
	}

	writeFile("catalogs/orders.yaml", catalog)
	writeFile("Caddyfile", site)
	md, err := errorCatalog("Caddyfile", "", "markdown")
	if err != nil {
		t.Fatal(err)
	}
	if want := mdShown; string(md) != want {
		t.Errorf("caddy error-catalog --format markdown prints\n%s\nthe README shows\n%s", md, want)
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
			t.Errorf("the README's JSON says %s: %s, the tool %s", k, compact(v), compact(got.Handlers[0][k]))
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
			t.Errorf("the README's JSON row %s is not in the tool's output", compact(row))
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
					t.Errorf("the README's OpenAPI example %s %s is\n%s\nthe tool's\n%s", name, ex, compact(v), compact(g))
				}
			}
		}
	}
}

// TestREADMEScrubbing: the README's scrubbing example scrubs its sample
// text as the README says, and its leak-finding recipe adapts.
func TestREADMEScrubbing(t *testing.T) {
	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(readmeBlock(t, "## Scrubbing secrets and internals", "caddyfile"))); err != nil {
		t.Fatal(err)
	}
	if err := h.compile(); err != nil {
		t.Fatal(err)
	}
	const in, want = "ticket INT-123456 for acct-991 from 10.0.0.5 failed", "ticket [ticket] for [REDACTED] from [REDACTED] failed"
	readme, _ := os.ReadFile("README.md")
	if !strings.Contains(string(readme), "`"+in+"` reaches the client as\n`"+want+"`") {
		t.Fatalf("the README no longer shows %q becoming %q", in, want)
	}
	if got, _ := h.policy.scrub.scrub(in, h.policy.scrub.on); got != want {
		t.Errorf("the README's example scrubs %q to %q, the README says %q", in, got, want)
	}
	recipe := readmeBlock(t, "### Finding backends that leak", "caddyfile")
	if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(recipe), nil); err != nil {
		t.Errorf("the leak-finding recipe does not adapt: %v", err)
	}
}
