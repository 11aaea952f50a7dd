package errenvelope

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// writeCatalog writes a catalog file into dir and returns its path.
func writeCatalog(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCatalogErrors: every bad catalog of SPEC §10.1 is rejected with a
// message naming the file, the line, the entry (index and code) and the
// member.
func TestCatalogErrors(t *testing.T) {
	good := `{"code":"A.1","status":404,"message":"Nope."}`
	tests := []struct {
		name  string
		files map[string]string // name -> content; loaded in name order
		want  []string          // parts of the error, besides the last file's name
	}{
		{"unreadable file", map[string]string{"a.json": ""}, []string{"no such file"}},
		{"unknown extension", map[string]string{"a.toml": "x"}, []string{"want a .json, .yaml or .yml file"}},
		{"json syntax error with line", map[string]string{"a.json": "{\"errors\": [\n" + good + ",\n{\"code\": }\n]}"}, []string{"line 3: syntax error"}},
		{"json truncated", map[string]string{"a.json": "{\"errors\": [\n" + good}, []string{"unexpected end of file"}},
		{"json trailing data", map[string]string{"a.json": `{"errors":[]} {}`}, []string{"unexpected data after the catalog object"}},
		{"yaml syntax error with line", map[string]string{"a.yaml": "errors:\n  - code: A.1\n   status: [\n"}, []string{"syntax error", "line"}},
		{"unknown top-level member", map[string]string{"a.json": "{\"errors\":[],\n\"lang\":\"en\"}"}, []string{`line 2: unknown member "lang"`}},
		{"missing errors", map[string]string{"a.json": `{"language":"en"}`}, []string{"errors: missing"}},
		{"errors not a list", map[string]string{"a.json": `{"errors":{}}`}, []string{"errors: want a list"}},
		{"bad language", map[string]string{"a.json": `{"language":"english!","errors":[]}`}, []string{`language: "english!" is not a BCP 47 language tag`}},
		{"entry not an object", map[string]string{"a.json": `{"errors":[42]}`}, []string{"errors[0]", "want an object"}},
		{"unknown member (typo)", map[string]string{"a.json": "{\"errors\":[" + good + ",\n  {\"code\":\"A.2\",\"status\":400,\"message\":\"x\",\"upstream_code\":[\"X\"]}]}"},
			[]string{"line 2", `errors[1] (code "A.2")`, `unknown member "upstream_code"`}},
		{"unknown member in yaml", map[string]string{"a.yaml": "errors:\n  - code: A.1\n    status: 404\n    message: Nope.\n    satus: 404\n"},
			[]string{"line 5", `errors[0] (code "A.1")`, `unknown member "satus"`}},
		// Every error is reported at the bad member's own line.
		{"typo on its own line", map[string]string{"a.json": "{\"errors\": [\n  {\n    \"code\": \"A.1\",\n    \"status\": 404,\n    \"message\": \"Nope.\",\n    \"descriptio\": \"x\"\n  }\n]}"},
			[]string{"line 6:", `unknown member "descriptio"`}},
		{"bad status on its own line", map[string]string{"a.json": "{\"errors\": [\n  {\n    \"code\": \"A.1\",\n    \"message\": \"Nope.\",\n    \"status\": 302\n  }\n]}"},
			[]string{"line 5:", "status: 302 is not within 400-599"}},
		{"bad yaml member on its own line", map[string]string{"a.yaml": "errors:\n  - code: A.1\n    status: 404\n    message: Nope.\n    messages: {de: \"\"}\n"},
			[]string{"line 5:", `messages: the "de" message is empty`}},
		{"duplicate at the status line", map[string]string{"a.json": "{\"errors\":[" + good + ",\n{\"code\":\"A.1\",\n\"message\":\"Again.\",\n\"status\":404}]}"},
			[]string{"line 4:", `status: code "A.1" with status 404 is already`}},
		{"yaml member indented too little", map[string]string{"a.yaml": "errors:\n  - code: A.1\n    status: 404\n   message: Nope.\n"},
			[]string{"line 4: syntax error"}},
		{"yaml member indented too much", map[string]string{"a.yaml": "errors:\n  - code: A.1\n    status: 404\n      message: Nope.\n"},
			[]string{"line 4: syntax error"}},
		{"yaml tab", map[string]string{"a.yaml": "errors:\n  - code: A.1\n\tstatus: 404\n"},
			[]string{"line 3: syntax error"}},
		{"missing code", map[string]string{"a.json": `{"errors":[{"status":404,"message":"x"}]}`}, []string{"errors[0]: code: missing"}},
		{"empty code", map[string]string{"a.json": `{"errors":[{"code":"","status":404,"message":"x"}]}`}, []string{"errors[0]: code: empty"}},
		{"code not a string", map[string]string{"a.json": `{"errors":[{"code":11,"status":404,"message":"x"}]}`}, []string{"code: want a string, got a JSON number"}},
		{"missing status", map[string]string{"a.json": `{"errors":[{"code":"A.1","message":"x"}]}`}, []string{`(code "A.1"): status: missing`}},
		{"status as string", map[string]string{"a.json": `{"errors":[{"code":"A.1","status":"404","message":"x"}]}`}, []string{`(code "A.1"): status: want a number within 400-599, got "404"`}},
		{"status out of range", map[string]string{"a.json": `{"errors":[{"code":"A.1","status":302,"message":"x"}]}`}, []string{`(code "A.1"): status: 302 is not within 400-599`}},
		{"missing message", map[string]string{"a.json": `{"errors":[{"code":"A.1","status":404}]}`}, []string{`(code "A.1"): message: missing`}},
		{"blank message", map[string]string{"a.json": `{"errors":[{"code":"A.1","status":404,"message":"  "}]}`}, []string{`(code "A.1"): message: empty`}},
		{"bad language tag in messages", map[string]string{"a.json": `{"errors":[{"code":"A.1","status":404,"message":"x","messages":{"chinese":"y"}}]}`}, []string{`(code "A.1"): messages: "chinese" is not a BCP 47 language tag`}},
		{"messages repeat the file language", map[string]string{"a.json": `{"errors":[{"code":"A.1","status":404,"message":"x","messages":{"EN":"y"}}]}`}, []string{`messages: "EN" is the catalog's language`}},
		{"same language twice in messages", map[string]string{"a.json": `{"errors":[{"code":"A.1","status":404,"message":"x","messages":{"zh-CN":"y","zh-cn":"z"}}]}`}, []string{`messages: "zh-CN" appears twice`}},
		{"empty translation", map[string]string{"a.json": `{"errors":[{"code":"A.1","status":404,"message":"x","messages":{"de":""}}]}`}, []string{`messages: the "de" message is empty`}},
		{"bad type", map[string]string{"a.json": `{"errors":[{"code":"A.1","status":404,"message":"x","type":"not a uri"}]}`}, []string{`type: "not a uri" is not a URI`}},
		{"bad status spec", map[string]string{"a.json": `{"errors":[{"code":"A.1","status":404,"message":"x","statuses":["4xy"]}]}`}, []string{`(code "A.1"): statuses: invalid status "4xy"`}},
		{"status spec out of range", map[string]string{"a.json": `{"errors":[{"code":"A.1","status":404,"message":"x","statuses":[600]}]}`}, []string{`statuses: invalid status "600"`}},
		{"empty upstream code", map[string]string{"a.json": `{"errors":[{"code":"A.1","status":404,"message":"x","upstream_codes":[""]}]}`}, []string{"upstream_codes: an upstream code is empty"}},
		{"duplicate code and status", map[string]string{"a.json": `{"errors":[` + good + `,` + good + `]}`},
			[]string{`errors[1] (code "A.1"): status: code "A.1" with status 404 is already errors[0]`}},
		{"duplicate code and status across files", map[string]string{"a.json": `{"errors":[` + good + `]}`, "b.yaml": "errors:\n  - {code: A.1, status: 404, message: Again.}\n"},
			[]string{`errors[0] (code "A.1"): status: code "A.1" with status 404 is already errors[0] (code "A.1") of catalog`, "a.json"}},
		{"upstream code claimed twice", map[string]string{"a.json": `{"errors":[{"code":"A.1","status":404,"message":"x","upstream_codes":["NF"]},{"code":"A.2","status":404,"message":"y","upstream_codes":["NF"]}]}`},
			[]string{`errors[1] (code "A.2"): upstream_codes: "NF" is already claimed by errors[0] (code "A.1")`}},
		{"status spec claimed twice across files", map[string]string{"a.json": `{"errors":[{"code":"A.1","status":404,"message":"x","statuses":["4xx"]}]}`, "b.json": `{"errors":[{"code":"B.1","status":400,"message":"y","statuses":["4XX"]}]}`},
			[]string{`errors[0] (code "B.1"): statuses: 4XX is already claimed by errors[0] (code "A.1")`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var paths []string
			names := make([]string, 0, len(tt.files))
			for name := range tt.files {
				names = append(names, name)
			}
			slices.Sort(names)
			for _, name := range names {
				if tt.name == "unreadable file" {
					paths = append(paths, filepath.Join(dir, name))
					continue
				}
				paths = append(paths, writeCatalog(t, dir, name, tt.files[name]))
			}
			_, err := loadCatalogs(paths)
			if err == nil {
				t.Fatalf("loaded, want an error")
			}
			want := append([]string{fmt.Sprintf("catalog %q", paths[len(paths)-1])}, tt.want...)
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

// TestCatalogJSONAndYAMLAgree: the two formats of one catalog load alike.
func TestCatalogJSONAndYAMLAgree(t *testing.T) {
	dir := t.TempDir()
	j := writeCatalog(t, dir, "c.json", `{"language":"en","errors":[
		{"code":"IAM.0011","status":400,"message":"Request body is invalid.","messages":{"zh-CN":"请求体非法。"},
		 "description":"The body is not JSON.","type":"https://docs.example.com/errors/IAM.0011",
		 "upstream_codes":["INVALID_BODY","FST_ERR_VALIDATION"],"statuses":["400"]}]}`)
	y := writeCatalog(t, dir, "c.yml", `language: en
errors:
  - code: IAM.0011
    status: 400
    message: Request body is invalid.
    messages: {zh-CN: 请求体非法。}
    description: The body is not JSON.
    type: https://docs.example.com/errors/IAM.0011
    upstream_codes: [INVALID_BODY, FST_ERR_VALIDATION]
    statuses: [400]
`)
	cj, err := loadCatalogs([]string{j})
	if err != nil {
		t.Fatal(err)
	}
	cy, err := loadCatalogs([]string{y})
	if err != nil {
		t.Fatal(err)
	}
	a, b := *cj.entries[0], *cy.entries[0]
	a.source, b.source = "", ""
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("json entry %+v\nyaml entry %+v", a, b)
	}
	if a.langs.names[1] != "zh-CN" || a.texts[1].s != "请求体非法。" || a.statuses[0] != "400" {
		t.Fatalf("entry %+v", a)
	}
}

// TestCatalogOptionErrors: catalog-related configuration errors, reported
// at the line of the option they are about.
func TestCatalogOptionErrors(t *testing.T) {
	dir := t.TempDir()
	cat := writeCatalog(t, dir, "c.json", `{"errors":[
		{"code":"APIG.0101","status":404,"message":"API not found.","statuses":["404"]},
		{"code":"APIG.0400","status":400,"message":"Bad request.","statuses":["4xx"]},
		{"code":"APIG.0500","status":500,"message":"Internal error.","statuses":["5xx"]}]}`)
	bad := writeCatalog(t, dir, "bad.json", `{"errors":[{"code":"apig-1","status":404,"message":"x"}]}`)
	// line is the Caddyfile line `caddy adapt` names; 0 for what needs a
	// file, which only loading the config (`caddy validate`) finds.
	tests := []struct {
		name, input, want string
		line              int
	}{
		{"unknown_codes without catalog", "error_envelope {\n\tmode report\n\tunknown_codes rewrite\n}", "unknown_codes rewrite: needs a catalog", 3},
		{"unknown_codes bad value", "error_envelope {\n\tunknown_codes drop\n}", `unknown_codes "drop": want pass or rewrite`, 2},
		{"unknown_codes with an unknown map_status code", "error_envelope {\n\tcatalog " + cat + "\n\tmap_status 404 APIG.9999\n\tunknown_codes rewrite\n}", `the map_status 404 code "APIG.9999" is not in the catalog`, 0},
		{"unknown_codes with an unknown map_code code", "error_envelope {\n\tcatalog " + cat + "\n\tmap_code NF OTHER.1\n\tunknown_codes rewrite\n}", `the map_code NF code "OTHER.1" is not in the catalog`, 0},
		{"unknown_codes with a fallback code missing", "error_envelope {\n\tcatalog " + cat + "\n\tstatuses 4xx 5xx\n\tunknown_codes rewrite\n}", "", 0},
		{"a missing catalog", "error_envelope {\n\tcatalog " + cat + "\n\tcatalog " + dir + "/missing.json\n\tmode report\n}", "missing.json", 0},
		{"catalog without a file", "error_envelope {\n\tcatalog\n}", "catalog: want exactly one file", 2},
		{"code_pattern rejects a catalog code", "error_envelope {\n\tcatalog " + bad + "\n\tcode_pattern ^[A-Z]+\\.\\d{4}$\n\tcode_prefix APIG\n}", `rejects the code of catalog "` + bad + `" errors[0] (code "apig-1")`, 0},
		{"code_pattern rejects a map_status code", "error_envelope {\n\tcode_pattern ^APIG\\.\\d{4}$\n\tcode_prefix APIG\n\tmap_status 404 NOTFOUND\n}", `rejects the configured map_status code "NOTFOUND"`, 2},
		{"name without value", "error_envelope {\n\tname\n}", "name: want exactly one non-empty name", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.line == 0 {
				if err != nil {
					t.Fatalf("adapt error = %v, want none: adapting reads no file", err)
				}
				err = h.compile() // as the config loads
				if tt.want == "" && err != nil {
					t.Fatalf("error = %v, want none", err)
				}
				if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
					t.Fatalf("load error = %v, want it to contain %q", err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasSuffix(err.Error(), fmt.Sprintf("at Testfile:%d", tt.line)) {
				t.Fatalf("error = %v, want it to contain %q at Testfile:%d", err, tt.want, tt.line)
			}
		})
	}
	t.Run("unknown_codes names the first missing fallback code", func(t *testing.T) {
		small := writeCatalog(t, dir, "small.json", `{"errors":[{"code":"GATEWAY.0400","status":400,"message":"Bad request."}]}`)
		h := Handler{Catalogs: []string{small}, UnknownCodes: "rewrite"}
		err := h.compile()
		if err == nil || !strings.Contains(err.Error(), `the fallback code "GATEWAY.0401" of status 401 is not in the catalog`) {
			t.Fatalf("error = %v", err)
		}
	})
}

// TestValidateRejectsBadCatalog runs what `caddy validate` runs on a JSON
// config whose catalog is broken.
func TestValidateRejectsBadCatalog(t *testing.T) {
	dir := t.TempDir()
	bad := writeCatalog(t, dir, "bad.yaml", "errors:\n  - code: A.1\n    status: 404\n    message: Nope.\n    upstream_code: [NF]\n")
	cfg := fmt.Sprintf(`{"apps":{"http":{"servers":{"srv0":{"listen":[":0"],"routes":[{"handle":[
		{"handler":"error_envelope","catalogs":[%q]},{"handler":"static_response","status_code":404}]}]}}}}}`, bad)
	var c caddy.Config
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		t.Fatal(err)
	}
	err := caddy.Validate(&c)
	if err == nil {
		t.Fatal("a config with a broken catalog validated")
	}
	for _, want := range []string{bad, "line 5", `errors[0] (code "A.1")`, `unknown member "upstream_code"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("validate error %q does not name %s", err, want)
		}
	}
}

// bigCatalog writes a catalog of n entries, each with a translation, an
// upstream code and a status spec for the first 200.
func bigCatalog(t testing.TB, dir string, n int) string {
	var b strings.Builder
	b.WriteString(`{"language":"en","errors":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"code":"SVC.%05d","status":%d,"message":"Error number %d happened.","messages":{"zh-CN":"第 %d 号错误。"},"description":"Entry %d.","upstream_codes":["UP_%d"]`, i, 400+i%200, i, i, i, i)
		if i < 200 {
			fmt.Fprintf(&b, `,"statuses":["%d"]`, 400+i)
		}
		b.WriteString("}")
	}
	b.WriteString("]}")
	return writeCatalog(t, dir, "big.json", b.String())
}

// BenchmarkLoadCatalog10k: loading and checking a 10 000-entry catalog
// with two languages, as Provision does.
func BenchmarkLoadCatalog10k(b *testing.B) {
	p := bigCatalog(b, b.TempDir(), 10000)
	for b.Loop() {
		h := Handler{Catalogs: []string{p}}
		if err := h.compile(); err != nil {
			b.Fatal(err)
		}
	}
}
