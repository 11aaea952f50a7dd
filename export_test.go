package errenvelope

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/spf13/pflag"
)

const exportConfig = "testdata/export.Caddyfile"

// TestErrorCatalogJSON: the contract of a config with two named handlers,
// one with catalogs and one with Caddyfile rules only.
func TestErrorCatalogJSON(t *testing.T) {
	out, err := errorCatalog(exportConfig, "caddyfile", "json")
	if err != nil {
		t.Fatal(err)
	}
	var c contract
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if len(c.Handlers) != 2 || c.Handlers[0].Label != "orders" || c.Handlers[1].Label != "legacy" {
		t.Fatalf("handlers: %+v", c.Handlers)
	}
	row := func(hc handlerContract, code, source string) contractError {
		t.Helper()
		for _, e := range hc.Errors {
			if e.Code == code && e.Source == source {
				return e
			}
		}
		t.Fatalf("%s: no %s row for %s in %+v", hc.Label, source, code, hc.Errors)
		return contractError{}
	}
	orders, legacy := c.Handlers[0], c.Handlers[1]
	if got := strings.Join(orders.Languages, ","); got != "de,zh,zh-CN" || !orders.RequestID || orders.UnknownCodes != "pass" {
		t.Errorf("orders: languages %q, request_id %v, unknown_codes %s", got, orders.RequestID, orders.UnknownCodes)
	}
	tests := []struct {
		got  contractError
		want string
	}{
		{row(orders, "ORD.0001", "catalog"), `{"code":"ORD.0001","statuses":["400"],"message":"The order is invalid.","messages":{"de":"Die Bestellung ist ungültig.","zh-CN":"订单无效。"},"description":"The body is not an order, or misses a required member.","type":"https://docs.example.com/errors/ORD.0001","source":"catalog","upstream_codes":["INVALID_ORDER","DUP_UP"]}`},
		{row(orders, "ORD.4000", "catalog"), `{"code":"ORD.4000","statuses":["400-401","403-408","411-428","430-499"],"message":"Bad order request.","upstream_message_first":true,"source":"catalog"}`},
		{row(orders, "ORD.0500", "catalog"), `{"code":"ORD.0500","statuses":["500-501","504-599"],"message":"The order service failed.","messages":{"zh-CN":"订单服务故障。"},"source":"catalog"}`},
		{row(orders, "HANDLER.0410", "map_status"), `{"code":"HANDLER.0410","statuses":["410"],"message":"Handler line.","upstream_message_first":true,"source":"map_status"}`},
		{row(orders, "ORD.0404", "map_code"), `{"code":"ORD.0404","statuses":[],"message":"The order does not exist.","messages":{"zh-CN":"订单不存在。"},"upstream_message_first":true,"source":"map_code","upstream_codes":["LEGACY_NF"]}`},
		{row(orders, "PAY.0001", "catalog"), `{"code":"PAY.0001","statuses":["402"],"message":"Payment required.","messages":{"zh":"需要付款。"},"upstream_message_first":true,"description":"The account has no payment method.","source":"catalog","upstream_codes":["PAYMENT_REQUIRED"]}`},
		{row(legacy, "LEG.0001", "map_status"), `{"code":"LEG.0001","statuses":["404"],"message":"Not here.","upstream_message_first":true,"source":"map_status"}`},
		{row(legacy, "LEG.0500", "map_status"), `{"code":"LEG.0500","statuses":["500-503"],"message":"(the status's reason phrase)","source":"map_status"}`},
		{row(legacy, "LEG.0401", "map_code"), `{"code":"LEG.0401","statuses":[],"message":"Sign in again.","source":"map_code","upstream_codes":["E_AUTH","E_TOKEN"]}`},
		// Fallback codes are compressed into runs of statuses.
		{row(legacy, "LEG.0400…LEG.0403", "fallback"), `{"code":"LEG.0400…LEG.0403","statuses":["400-403"],"message":"(the status's reason phrase)","upstream_message_first":true,"source":"fallback"}`},
		{row(legacy, "LEG.0405…LEG.0499", "fallback"), `{"code":"LEG.0405…LEG.0499","statuses":["405-499"],"message":"(the status's reason phrase)","upstream_message_first":true,"source":"fallback"}`},
		{row(legacy, "LEG.0504…LEG.0599", "fallback"), `{"code":"LEG.0504…LEG.0599","statuses":["504-599"],"message":"(the status's reason phrase)","source":"fallback"}`},
	}
	for _, tt := range tests {
		b, _ := json.Marshal(tt.got)
		if got := strings.ReplaceAll(string(b), `\u0026`, "&"); got != tt.want {
			t.Errorf("row\n%s\nwant\n%s", got, tt.want)
		}
	}
	if n := len(legacy.Errors); n != 6 {
		t.Errorf("legacy has %d rows, want 6 (3 fallback runs, 2 map_status, 1 map_code)", n)
	}
}

// TestErrorCatalogMarkdown: a table per handler, a column per language.
func TestErrorCatalogMarkdown(t *testing.T) {
	out, err := errorCatalog(exportConfig, "caddyfile", "markdown")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## orders\n",
		"| Status | Code | Message | de | zh | zh-CN | Description | Source | Upstream codes |\n|---|---|---|---|---|---|---|---|---|\n",
		"| 400 | `ORD.0001` | The order is invalid. | Die Bestellung ist ungültig. |  | 订单无效。 | The body is not an order, or misses a required member. | catalog | `INVALID_ORDER`, `DUP_UP` |\n",
		"| 503 | `ORD.0500` | The order service is overloaded. |  |  |  |  | catalog |  |\n",
		"## legacy\n",
		"| Status | Code | Message | Description | Source | Upstream codes |\n",
		"| 405-499 | `LEG.0405…LEG.0499` | Upstream's message, else: (the status's reason phrase) |  | fallback |  |\n",
		"| any | `LEG.0401` | Sign in again. |  | map_code | `E_AUTH`, `E_TOKEN` |\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
}

// TestErrorCatalogOpenAPI: the OpenAPI output passes an OpenAPI 3.1
// validator and holds the envelope schema, a response per status and an
// example per code.
func TestErrorCatalogOpenAPI(t *testing.T) {
	out, err := errorCatalog(exportConfig, "caddyfile", "openapi")
	if err != nil {
		t.Fatal(err)
	}
	validateOpenAPI(t, out)
	var doc struct {
		OpenAPI    string `json:"openapi"`
		Components struct {
			Schemas   map[string]json.RawMessage `json:"schemas"`
			Responses map[string]struct {
				Headers map[string]json.RawMessage `json:"headers"`
				Content map[string]struct {
					Examples map[string]struct {
						Value map[string]any `json:"value"`
					} `json:"examples"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	compact := func(raw json.RawMessage) string {
		var b bytes.Buffer
		_ = json.Compact(&b, raw)
		return b.String()
	}
	if got := compact(doc.Components.Schemas["orders.Envelope"]); !strings.Contains(got, `"required":["error_msg","error_code","request_id"]`) {
		t.Errorf("orders envelope schema: %s", got)
	}
	if got := compact(doc.Components.Schemas["legacy.Envelope"]); !strings.Contains(got, `"pattern":"^[A-Z]+\\.\\d{4}$"`) {
		t.Errorf("legacy envelope schema has no code_pattern: %s", got)
	}
	r404 := doc.Components.Responses["orders.404"]
	ex := r404.Content["application/json"].Examples["ORD.0404"].Value
	if ex["error_code"] != "ORD.0404" || ex["error_msg"] != "The order does not exist." || ex["request_id"] == "" {
		t.Errorf("orders.404 example: %+v", ex)
	}
	if _, ok := r404.Headers["X-Request-Id"]; !ok {
		t.Errorf("orders.404 has no X-Request-Id header")
	}
	legacy404 := doc.Components.Responses["legacy.404"].Content
	if ex := legacy404[ctProblem].Examples["LEG.0001"].Value; ex["error_code"] != "LEG.0001" || ex["detail"] != "Not here." || ex["title"] != "Not Found" {
		t.Errorf("legacy.404 problem example: %+v", ex)
	}
	if _, ok := doc.Components.Responses["orders.404"].Content[ctProblem]; ok {
		t.Errorf("orders has problem details without problem_details on")
	}
	if _, ok := doc.Components.Schemas["legacy.Problem"]; !ok {
		t.Errorf("no legacy.Problem schema")
	}
	// One response per status: every code a status can carry, and no
	// status claimed twice.
	if ex := doc.Components.Responses["legacy.450"].Content["application/json"].Examples["LEG.0450"].Value; ex["error_msg"] != "Error" {
		t.Errorf("no fallback example for 450: %v", slices.Collect(maps.Keys(doc.Components.Responses["legacy.450"].Content["application/json"].Examples)))
	}
	if n := len(doc.Components.Responses); n != 400 {
		t.Errorf("%d responses, want 400 (200 statuses of two handlers)", n)
	}
}

// validateOpenAPI checks a document against the OpenAPI 3.1 schema.
func validateOpenAPI(t *testing.T, spec []byte) {
	t.Helper()
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("invalid OpenAPI: %s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  %s: %s", se.KeywordLocation, se.Reason)
			}
		}
	}
}

// TestOpenAPIValidatorRejects: the validator used above does fail on a
// broken document, so its pass means something.
func TestOpenAPIValidatorRejects(t *testing.T) {
	doc, err := libopenapi.NewDocument([]byte(`{"openapi":"3.1.0","info":{"title":"x"},"components":{"responses":{"a b":{"content":{}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := validator.NewValidator(doc)
	if ok, _ := v.ValidateDocument(); ok {
		t.Fatal("a document without info.version and with a bad component name validated")
	}
}

// TestErrorCatalogCommand runs the subcommand as the caddy binary does: a
// config that does not load exits non-zero with its error.
func TestErrorCatalogCommand(t *testing.T) {
	run := func(args ...string) (int, error) {
		fs := pflag.NewFlagSet("error-catalog", pflag.ContinueOnError)
		fs.StringP("config", "c", "", "")
		fs.StringP("adapter", "a", "", "")
		fs.StringP("format", "f", "json", "")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return cmdErrorCatalog(caddycmd.Flags{FlagSet: fs})
	}
	dir := t.TempDir()
	broken := writeCatalog(t, dir, "Caddyfile", ":9182 {\n\terror_envelope {\n\t\tcatalog "+dir+"/nope.json\n\t}\n}\n")
	code, err := run("--config", broken, "--adapter", "caddyfile")
	if code == 0 || err == nil || !strings.Contains(err.Error(), "nope.json") {
		t.Errorf("broken config: exit %d, error %v", code, err)
	}
	code, err = run("--config", exportConfig, "--format", "yaml")
	if code == 0 || err == nil || !strings.Contains(err.Error(), `--format "yaml"`) {
		t.Errorf("bad format: exit %d, error %v", code, err)
	}
	// --help ends by pointing to this command's own documentation.
	help, code := caddyCommand(t, "", "error-catalog", "--help")
	if code != 0 || !strings.HasSuffix(help, catalogDocsFooter+"\n") || strings.Contains(help, "caddyserver.com/docs/command-line") ||
		!strings.Contains(help, "--format json|markdown|openapi|html") {
		t.Errorf("caddy error-catalog --help, exit %d:\n%s", code, help)
	}
	if _, err := os.Stat("docs/catalog.md"); err != nil {
		t.Errorf("--help points to docs/catalog.md: %v", err)
	}
}

// TestOpenAPIEnumUnderUnknownCodesRewrite: with unknown_codes rewrite the
// envelope's error_code is an enum of every code the handler sends.
func TestOpenAPIEnumUnderUnknownCodesRewrite(t *testing.T) {
	out := openAPIOf(t, &Handler{Name: "strict", Catalogs: []string{"testdata/orders.json"}, UnknownCodes: "rewrite"})
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(doc.Components.Schemas["strict.Envelope"].Properties["error_code"].Enum, " ")
	if want := "ORD.0001 ORD.4000 ORD.0404 ORD.0409 ORD.0410 ORD.0429 ORD.0500 ORD.0502"; got != want {
		t.Errorf("enum = %q, want %q", got, want)
	}
}

// TestOpenAPIExampleNamesAreUnique: codes mapped from upstream codes whose
// names make the same component name each keep their example.
func TestOpenAPIExampleNamesAreUnique(t *testing.T) {
	out := openAPIOf(t, &Handler{Name: "n", MapCode: []CodeRule{
		{UpstreamCode: "X", ErrorCode: "D", ErrorMsg: "m0"},
		{UpstreamCode: "ERR:1", ErrorCode: "D", ErrorMsg: "m1"},
		{UpstreamCode: "ERR_1", ErrorCode: "D", ErrorMsg: "m2"},
	}})
	var doc openAPIDoc
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	var summaries []string
	for _, ex := range doc.Components.Responses["n.400"].Content["application/json"].Examples {
		var v struct {
			Msg string `json:"error_msg"`
		}
		_ = json.Unmarshal(ex.Value, &v)
		summaries = append(summaries, v.Msg)
	}
	slices.Sort(summaries)
	if got := strings.Join(summaries, ","); got != "Bad Request,m0,m1,m2" {
		t.Errorf("examples of 400 say %s, want Bad Request, m0, m1 and m2", got)
	}
}

// openAPIOf compiles h and returns its OpenAPI export, checked by the
// OpenAPI 3.1 validator.
func openAPIOf(t *testing.T, h *Handler) []byte {
	t.Helper()
	if err := h.compile(); err != nil {
		t.Fatal(err)
	}
	out, err := exportOpenAPI(contract{Handlers: []handlerContract{h.contract(h.Name, "srv0")}})
	if err != nil {
		t.Fatal(err)
	}
	validateOpenAPI(t, out)
	return out
}

// TestContractFindsEveryHandler: the contract lists the error_envelope
// handlers wherever a config puts them: in routes, subroutes, named
// routes, error routes and the handle_response routes of reverse_proxy
// and intercept.
func TestContractFindsEveryHandler(t *testing.T) {
	dir := t.TempDir()
	cfg := writeCatalog(t, dir, "Caddyfile", `&(named) {
	error_envelope {
		name in-named
	}
	respond 404
}

:9191 {
	route /a/* {
		error_envelope {
			name in-route
		}
		respond 404
	}
	reverse_proxy /b/* 127.0.0.1:9 {
		@bad status 5xx
		handle_response @bad {
			error_envelope {
				name in-handle-response
			}
			respond 502
		}
	}
	intercept /c/* {
		@bad status 5xx
		handle_response @bad {
			error_envelope {
				name in-intercept
			}
			respond 500
		}
	}
	invoke /d/* named
	handle_errors {
		error_envelope {
			name in-errors
		}
		respond 500
	}
	error_envelope {
		name at-site
	}
	respond 404
}
`)
	out, err := errorCatalog(cfg, "caddyfile", "json")
	if err != nil {
		t.Fatal(err)
	}
	var c contract
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, hc := range c.Handlers {
		names = append(names, hc.Name)
	}
	slices.Sort(names)
	if want := []string{"at-site", "in-errors", "in-handle-response", "in-intercept", "in-named", "in-route"}; !slices.Equal(names, want) {
		t.Errorf("handlers %q, want %q", names, want)
	}
}

// BenchmarkContract10k: a 10 000-entry catalog's contract, digest
// included, as Provision computes it for contract_info.
func BenchmarkContract10k(b *testing.B) {
	h := &Handler{Name: "big", Catalogs: []string{bigCatalog(b, b.TempDir(), 10000)}}
	if err := h.compile(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if hc := h.contract("big", "srv0"); hc.Digest == "" {
			b.Fatal("no digest")
		}
	}
}
