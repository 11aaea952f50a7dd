package errenvelope

import (
	"bytes"
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

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
)

// runCaddyEnv, when set, makes the test binary run `caddy run --config`
// on the file it names instead of the tests: a real Caddy process for
// configs that must run exactly as written.
const runCaddyEnv = "ERRENVELOPE_TEST_CADDY_RUN"

// caddyArgsEnv, when set, makes the test binary run the caddy command
// with these arguments (one per line) instead of the tests.
const caddyArgsEnv = "ERRENVELOPE_TEST_CADDY_ARGS"

// runCaddyIfAsked is called first in TestMain.
func runCaddyIfAsked() {
	if cfg := os.Getenv(runCaddyEnv); cfg != "" {
		os.Args = []string{"caddy", "run", "--config", cfg}
		caddycmd.Main() // exits
	}
	if args := os.Getenv(caddyArgsEnv); args != "" {
		os.Args = append([]string{"caddy"}, strings.Split(args, "\n")...)
		caddycmd.Main() // exits on failure
		os.Exit(0)
	}
}

// caddyCommand runs the caddy command (this test binary, with the
// module) with args, in dir, and returns its output and exit code.
func caddyCommand(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), caddyArgsEnv+"="+strings.Join(args, "\n"))
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
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

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), runCaddyEnv+"="+cfg)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
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
	}()

	get := func(p string) (int, map[string]string, http.Header) {
		t.Helper()
		var res *http.Response
		for i := 0; ; i++ {
			res, err = http.Get("http://127.0.0.1:8080" + p)
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
	backend.Close()
	status, env, _ := get("/users/7")
	if want := fmt.Sprint(map[string]string{"error_msg": "Backend unavailable.", "error_code": "APIG.0201", "service": "gateway", "request_id": env["request_id"]}); status != 502 || fmt.Sprint(env) != want {
		t.Errorf("backend down: %d %v, want 502 %s", status, env, want)
	}
}
