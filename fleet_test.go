package errenvelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Two catalogs of one API: the same codes, one message apart.
const (
	shopCatalogX = `{"language":"en","errors":[{"code":"SHOP.0404","status":404,"message":"No such product.","statuses":["404"]}]}`
	shopCatalogY = `{"language":"en","errors":[{"code":"SHOP.0404","status":404,"message":"Product not found.","statuses":["404"]}]}`
)

// fleetConfig is one instance's JSON config: a handler named shop-api in
// front of a 404, with its catalog in a file or inline.
func fleetConfig(admin, port int, catalog string) string {
	catalogs := `"inline_catalogs":[` + catalog + `]`
	if strings.HasSuffix(catalog, ".json") {
		catalogs = `"catalogs":["` + catalog + `"]`
	}
	return fmt.Sprintf(`{"admin":{"listen":"localhost:%d"},"apps":{"http":{"servers":{"api":{"listen":[":%d"],"routes":[{"handle":[`+
		`{"handler":"error_envelope","name":"shop-api",%s},{"handler":"static_response","status_code":404}]}]}}}}}`, admin, port, catalogs)
}

// startInstance runs a Caddy with only its admin API, then loads config
// through POST /load, as a fleet's config pusher does.
func startInstance(t *testing.T, dir string, admin int, config string) {
	t.Helper()
	boot := filepath.Join(dir, fmt.Sprintf("boot-%d.json", admin))
	if err := os.WriteFile(boot, fmt.Appendf(nil, `{"admin":{"listen":"localhost:%d"}}`, admin), 0o600); err != nil {
		t.Fatal(err)
	}
	startCaddy(t, dir, "run", "--config", boot)
	load(t, admin, config)
}

// load posts config to an instance's admin API.
func load(t *testing.T, admin int, config string) {
	t.Helper()
	for i := 0; ; i++ {
		res, err := http.Post(fmt.Sprintf("http://localhost:%d/load", admin), "application/json", strings.NewReader(config))
		if err == nil {
			var body bytes.Buffer
			_, _ = body.ReadFrom(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("POST /load: %d %s", res.StatusCode, body.String())
			}
			return
		}
		if i == 100 {
			t.Fatalf("POST /load: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// digests are an instance's contract_info series: digest by route.
func digests(t *testing.T, admin int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, s := range scrapeFamilyAt(t, fmt.Sprintf("http://localhost:%d/metrics", admin), "caddy_http_error_envelope_contract_info") {
		if s.value != 1 {
			t.Errorf("contract_info %v = %v, want 1", s.labels, s.value)
		}
		if _, dup := out[s.labels["route"]]; dup {
			t.Errorf("two contract_info series of route %q", s.labels["route"])
		}
		out[s.labels["route"]] = s.labels["digest"]
	}
	return out
}

// TestFleet: instances with the same contract show the same digest in
// /metrics, whether their catalog is a file or inline in a config pushed
// through POST /load; a different catalog shows a different one, until a
// reload gives it the same contract; the admin API serves the documents
// the subcommand prints (SPEC §16.2).
func TestFleet(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "shop.json"), []byte(shopCatalogX), 0o600); err != nil {
		t.Fatal(err)
	}
	configA := fleetConfig(2101, 8101, "shop.json")
	if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte(configA), 0o600); err != nil {
		t.Fatal(err)
	}
	startCaddy(t, dir, "run", "--config", "a.json")                    // A: the catalog as a file
	startInstance(t, dir, 2102, fleetConfig(2102, 8102, shopCatalogX)) // B: the same, inline, pushed
	startInstance(t, dir, 2103, fleetConfig(2103, 8103, shopCatalogY)) // C: another message, pushed

	// Each serves its contract: B's codes come from its inline catalog.
	for port, want := range map[int]string{
		8101: `{"error_msg":"No such product.","error_code":"SHOP.0404"}`,
		8102: `{"error_msg":"No such product.","error_code":"SHOP.0404"}`,
		8103: `{"error_msg":"Product not found.","error_code":"SHOP.0404"}`,
	} {
		if res, body := getUntilUp(t, fmt.Sprintf("http://127.0.0.1:%d/products/9", port)); res.StatusCode != 404 || string(body) != want {
			t.Errorf(":%d: %d %s, want 404 %s", port, res.StatusCode, body, want)
		}
	}

	a, b, c := digests(t, 2101), digests(t, 2102), digests(t, 2103)
	t.Logf("contract_info: A %v, B %v, C %v", a, b, c)
	if len(a) != 1 || !strings.HasPrefix(a["shop-api"], "sha256:") || a["shop-api"] != b["shop-api"] || c["shop-api"] == a["shop-api"] || c["shop-api"] == "" {
		t.Errorf("digests A %v, B %v, C %v: want A = B (same contract, file and inline), C different", a, b, c)
	}

	// A reload that changes C's contract replaces its series.
	load(t, 2103, fleetConfig(2103, 8103, shopCatalogX))
	if c2 := digests(t, 2103); len(c2) != 1 || c2["shop-api"] != a["shop-api"] {
		t.Errorf("after the reload, C's contract_info %v, want the one series %s", c2, a["shop-api"])
	}

	// The admin API's documents are the subcommand's, for every format.
	for _, format := range []string{"json", "markdown", "openapi", "html"} {
		want, err := caddyProcess(t, dir, "error-catalog", "--config", "a.json", "--format", format).Output()
		if err != nil {
			t.Fatalf("caddy error-catalog --format %s: %v", format, err)
		}
		res, got := getUntilUp(t, "http://localhost:2101/error-envelope/contract?format="+format)
		if res.StatusCode != 200 || !bytes.Equal(got, want) || res.Header.Get("Content-Type") != exportFormats[format] {
			t.Errorf("/error-envelope/contract?format=%s: %d %s, %d bytes; want the subcommand's %d bytes", format, res.StatusCode, res.Header.Get("Content-Type"), len(got), len(want))
		}
		// Each states the digest that contract_info shows.
		var stated string
		switch format {
		case "json":
			var doc contract
			if err := json.Unmarshal(got, &doc); err == nil && len(doc.Handlers) == 1 {
				stated = doc.Handlers[0].Digest
			}
		case "openapi":
			var doc struct {
				Info struct {
					Digests map[string]string `json:"x-contract-digests"`
				} `json:"info"`
			}
			if err := json.Unmarshal(got, &doc); err == nil && len(doc.Info.Digests) == 1 {
				stated = doc.Info.Digests["shop-api"]
			}
		case "markdown":
			stated = between(string(got), "Contract digest: `", "`")
		case "html":
			stated = between(string(got), "Contract digest: <code>", "</code>")
		}
		if stated != a["shop-api"] {
			t.Errorf("the %s export states the digest %q, want contract_info's %s", format, stated, a["shop-api"])
		}
	}
	if res, _ := getUntilUp(t, "http://localhost:2101/error-envelope/contract"); res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("default format: %s, want json", res.Header.Get("Content-Type"))
	}
	if res, body := getUntilUp(t, "http://localhost:2101/error-envelope/contract?format=pdf"); res.StatusCode != 400 || !strings.Contains(string(body), `format \"pdf\"`) {
		t.Errorf("?format=pdf: %d %s, want 400 naming the format", res.StatusCode, body)
	}
	// The pushed instance's admin API serves its inline contract.
	res, got := getUntilUp(t, "http://localhost:2102/error-envelope/contract?format=markdown")
	if res.StatusCode != 200 || !strings.Contains(string(got), "| 404 | `SHOP.0404` | Upstream's message, else: No such product. |") {
		t.Errorf("B's contract: %d\n%s", res.StatusCode, got)
	}
}

// between is the text of s between the first before and the after that
// follows it, or "".
func between(s, before, after string) string {
	_, rest, ok := strings.Cut(s, before)
	if !ok {
		return ""
	}
	text, _, ok := strings.Cut(rest, after)
	if !ok {
		return ""
	}
	return text
}

// TestDigestRecipe: the jq line of docs/deployment.md, run as written on
// the subcommand's json export, gives the digest that export states, for
// a contract whose texts hold markup, ampersands and Chinese.
func TestDigestRecipe(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		if os.Getenv(requireToolsEnv) != "" {
			t.Fatalf("no jq (apt-get install jq): %v", err)
		}
		t.Skip("no jq (apt-get install jq; .ci/run installs it)")
	}
	dir := t.TempDir()
	writeCatalog(t, dir, "shop.yaml", hostileCatalog)
	caddyfile := "{\n\tadmin off\n}\n:8080 {\n\terror_envelope {\n\t\tname shop-api\n\t\tcatalog shop.yaml\n\t\tproblem_details on\n\t}\n\trespond 404\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	export, err := caddyProcess(t, dir, "error-catalog", "--config", "Caddyfile", "--format", "json").Output()
	if err != nil {
		t.Fatalf("caddy error-catalog: %v: %s", err, stderrOf(err))
	}
	var doc contract
	if err := json.Unmarshal(export, &doc); err != nil || len(doc.Handlers) != 1 || !strings.HasPrefix(doc.Handlers[0].Digest, "sha256:") {
		t.Fatalf("export: %v, %s", err, export)
	}

	// The block's caddy is this test binary, as caddyProcess runs it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := "set -euo pipefail\ncaddy() { local IFS=$'\\n'; env " + caddyArgsEnv + "=\"$*\" \"$SELF\" -test.run='^$'; }\n" +
		docBlock(t, "docs/deployment.md", "### The contract digest", "sh")
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SELF="+self)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the recipe: %v: %s\n%s", err, stderrOf(err), script)
	}
	if got := "sha256:" + strings.TrimSuffix(string(out), "  -\n"); got != doc.Handlers[0].Digest {
		t.Errorf("the recipe gives %q, the export states %s", out, doc.Handlers[0].Digest)
	}
}

// stderrOf is what a command that failed wrote to its standard error.
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
