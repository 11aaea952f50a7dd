package errenvelope

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// catalogSite is a gateway that publishes its error reference next to
// its API: two handlers, every contract at /errors/all, shop-api's at
// /errors.
const catalogSite = `{
	admin localhost:2098
}
:8095 {
	handle /errors/all {
		error_catalog
	}
	handle /errors* {
		error_catalog shop-api
	}
	handle /nobody* {
		error_catalog nobody
	}
	handle /orders/* {
		error_envelope {
			name orders
		}
		respond 404
	}
	handle {
		error_envelope {
			name shop-api
			catalog shop.yaml
			request_id
			problem_details on
			type_base http://127.0.0.1:8095/errors
		}
		respond 404
	}
}
`

// startCatalogSite runs catalogSite in a real Caddy, in a directory with
// its catalog, and returns that directory.
func startCatalogSite(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	// Forty more codes before APIG.0201's rows and forty after, so that a
	// link to them must scroll the page (the browser test).
	var more strings.Builder
	for i := range 40 {
		fmt.Fprintf(&more, "  - code: SHOP.%04d\n    status: 409\n    message: Conflict number %d.\n", 1000+i, i)
		fmt.Fprintf(&more, "  - code: SHOP.%04d\n    status: 507\n    message: Storage number %d.\n", 2000+i, i)
	}
	writeCatalog(t, dir, "shop.yaml", hostileCatalog+more.String())
	if err := os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(catalogSite), 0o600); err != nil {
		t.Fatal(err)
	}
	startCaddy(t, dir, "run", "--config", "Caddyfile")
	getUntilUp(t, "http://127.0.0.1:8095/")
	return dir
}

// fetch sends a request to the catalog site with the given header fields.
func fetch(t *testing.T, method, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://127.0.0.1:8095"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

// TestErrorCatalogHandler: error_catalog serves, live from the running
// config, the very documents `caddy error-catalog` prints for it, by
// Accept and ?format, with an ETag and 304 (SPEC §16.1).
func TestErrorCatalogHandler(t *testing.T) {
	dir := startCatalogSite(t)
	for _, tt := range []struct {
		format, path, contentType string
		header                    []string
	}{
		{"html", "/errors/all", "text/html; charset=utf-8", []string{"Accept", browserHeaders["Accept"]}},
		{"html", "/errors/all", "text/html; charset=utf-8", nil},
		{"json", "/errors/all", "application/json", []string{"Accept", "application/json"}},
		{"json", "/errors/all", "application/json", []string{"Accept", "text/html;q=0.5, application/json"}},
		{"openapi", "/errors/all?format=openapi", "application/json", nil},
		{"markdown", "/errors/all?format=markdown", "text/markdown; charset=utf-8", []string{"Accept", "application/json"}},
		{"html", "/errors/all?format=html", "text/html; charset=utf-8", []string{"Accept", "application/json"}},
	} {
		out, err := caddyProcess(t, dir, "error-catalog", "--config", "Caddyfile", "--format", tt.format).Output()
		if err != nil {
			t.Fatalf("caddy error-catalog --format %s: %v", tt.format, err)
		}
		want := string(out)
		res, body := fetch(t, http.MethodGet, tt.path, tt.header...)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != tt.contentType || string(body) != want {
			t.Errorf("GET %s %q: %d %s, %d bytes; want %s, the subcommand's %d bytes", tt.path, tt.header,
				res.StatusCode, res.Header.Get("Content-Type"), len(body), tt.contentType, len(want))
		}
		etag := res.Header.Get("Etag")
		if len(etag) < 10 || res.Header.Get("Vary") != "Accept" {
			t.Errorf("GET %s: ETag %q, Vary %q", tt.path, etag, res.Header.Get("Vary"))
		}
		for _, inm := range []string{etag, `"x", W/` + etag, "*"} {
			res, body = fetch(t, http.MethodGet, tt.path, append([]string{"If-None-Match", inm}, tt.header...)...)
			if res.StatusCode != http.StatusNotModified || len(body) != 0 || res.Header.Get("Etag") != etag {
				t.Errorf("GET %s If-None-Match %s: %d, %d bytes, ETag %q; want 304", tt.path, inm, res.StatusCode, len(body), res.Header.Get("Etag"))
			}
		}
		if res, _ = fetch(t, http.MethodGet, tt.path, append([]string{"If-None-Match", `"other"`}, tt.header...)...); res.StatusCode != 200 {
			t.Errorf("GET %s with another ETag: %d, want 200", tt.path, res.StatusCode)
		}
	}

	// The page may run its own style and script, nothing else.
	res, _ := fetch(t, http.MethodGet, "/errors")
	if csp := res.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'sha256-") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	// Names choose the handlers.
	res, body := fetch(t, http.MethodGet, "/errors", "Accept", "application/json")
	var c contract
	if err := json.Unmarshal(body, &c); err != nil || len(c.Handlers) != 1 || c.Handlers[0].Name != "shop-api" {
		t.Errorf("/errors: %d %v (%v), want shop-api's contract alone", res.StatusCode, c, err)
	}
	res, body = fetch(t, http.MethodHead, "/errors")
	if res.StatusCode != 200 || len(body) != 0 || res.Header.Get("Content-Length") == "" {
		t.Errorf("HEAD /errors: %d, %d bytes, Content-Length %q", res.StatusCode, len(body), res.Header.Get("Content-Length"))
	}
	if res, _ = fetch(t, http.MethodPost, "/errors"); res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /errors: %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
	// type_base: every problem type is the reference page's row of its
	// code, and the export states the same types.
	res, body = fetch(t, http.MethodGet, "/orders-of-nobody", "Accept", "application/problem+json")
	var problem map[string]any
	if err := json.Unmarshal(body, &problem); err != nil || res.StatusCode != 404 || problem["type"] != "http://127.0.0.1:8095/errors#GATEWAY.0404" {
		t.Errorf("problem details %d %s (%v), want type http://127.0.0.1:8095/errors#GATEWAY.0404", res.StatusCode, body, err)
	}
	for _, e := range c.Handlers[0].Errors {
		want := "http://127.0.0.1:8095/errors#" + e.Code
		if strings.Contains(e.Code, "…") {
			want = "" // a run of fallback codes: a type per code, in the OpenAPI examples
		}
		if e.Type != want {
			t.Errorf("export row %s: type %q, want %q", e.Code, e.Type, want)
		}
	}
	if c.Handlers[0].TypeBase != "http://127.0.0.1:8095/errors" {
		t.Errorf("export type_base %q", c.Handlers[0].TypeBase)
	}
	if res, _ = fetch(t, http.MethodGet, "/errors?format=pdf"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("?format=pdf: %d, want 400", res.StatusCode)
	}
	// A name no handler has is an error of the config, said at the first request.
	if res, _ = fetch(t, http.MethodGet, "/nobody"); res.StatusCode != http.StatusInternalServerError {
		t.Errorf("GET /nobody: %d, want 500", res.StatusCode)
	}
}

// TestErrorCatalogCaddyfile: the directive's arguments and its errors.
func TestErrorCatalogCaddyfile(t *testing.T) {
	for in, want := range map[string]string{
		"error_catalog":                    "",
		"error_catalog shop-api orders":    "",
		"error_catalog a a":                `"a" named twice`,
		"error_catalog {\n\tname a\n}":     "takes no block",
		"error_catalog shop-api {\n}\n":    "",
		"error_catalog shop-api orders\n ": "",
	} {
		var c CatalogHandler
		err := c.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in))
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
	var c CatalogHandler
	if err := c.UnmarshalCaddyfile(caddyfile.NewTestDispenser("error_catalog shop-api orders")); err != nil || !slices.Equal(c.Names, []string{"shop-api", "orders"}) {
		t.Errorf("names %q, %v", c.Names, err)
	}
}

// TestREADMEErrorCatalog runs the two error_catalog sites of
// docs/catalog.md as written, but served over plain HTTP on loopback and
// in front of a loopback backend that answers nginx's HTML 404: the page
// is served at /errors with its CSP and the 502 row of APIG.0201, the
// backend's 404 becomes APIG.0101, and with type_base a problem-details
// client gets the type the page promises.
func TestREADMEErrorCatalog(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>")
	}))
	defer backend.Close()
	const site = "http://127.0.0.1:8096"
	for name, heading := range map[string]string{
		"error_catalog": "## Serve the reference page next to the API: `error_catalog`",
		"type_base":     "## Problem types that lead to the reference page: `type_base`",
	} {
		t.Run(name, func(t *testing.T) {
			block := docBlock(t, "docs/catalog.md", heading, "caddyfile")
			caddyfile := strings.Replace(block, "api.example.com {", site+" {", 1)
			caddyfile = strings.Replace(caddyfile, "shop:8080", strings.TrimPrefix(backend.URL, "http://"), 1)
			if caddyfile == block || !strings.Contains(caddyfile, backend.URL[len("http://"):]) {
				t.Fatalf("docs/catalog.md's site no longer reads api.example.com in front of shop:8080:\n%s", block)
			}
			dir := t.TempDir()
			apig, err := os.ReadFile("catalogs/apig.json")
			if err != nil {
				t.Fatal(err)
			}
			writeCatalog(t, dir, "apig.json", string(apig))
			if err := os.MkdirAll(filepath.Join(dir, "catalogs"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(dir, "apig.json"), filepath.Join(dir, "catalogs", "apig.json")); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(caddyfile), 0o600); err != nil {
				t.Fatal(err)
			}
			startCaddy(t, dir, "run", "--config", "Caddyfile")

			// A person looking a code up.
			req, _ := http.NewRequest(http.MethodGet, site+"/errors", nil)
			req.Header.Set("Accept", browserHeaders["Accept"])
			res, page := doUntilUp(t, req)
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
				res.Header.Get("Content-Security-Policy") != pageCSP ||
				!strings.Contains(string(page), `<tr id="APIG.0201" data-code="APIG.0201">`) ||
				!strings.Contains(string(page), "<td>502</td><th scope=\"row\"><a href=\"#APIG.0201\"><code>APIG.0201</code></a></th><td>Backend unavailable.</td>") {
				t.Errorf("GET /errors: %d %s, CSP %q\n%s", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Security-Policy"), page)
			}

			// A client of the API, whose backend answers an HTML 404.
			want := `{"error_msg":"The API does not exist or has not been published in the environment.","error_code":"APIG.0101"}`
			accept := "application/json"
			if strings.Contains(block, "type_base") {
				want = `{"type":"https://api.example.com/errors#APIG.0101","title":"Not Found","status":404,"detail":"The API does not exist or has not been published in the environment.","error_msg":"The API does not exist or has not been published in the environment.","error_code":"APIG.0101"}`
				accept = "application/problem+json"
			}
			req, _ = http.NewRequest(http.MethodGet, site+"/orders/7", nil)
			req.Header.Set("Accept", accept)
			res, body := doUntilUp(t, req)
			if res.StatusCode != 404 || string(body) != want {
				t.Errorf("GET /orders/7 (Accept: %s): %d %s\nwant %s", accept, res.StatusCode, body, want)
			}
		})
	}
}
