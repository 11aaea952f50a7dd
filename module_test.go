package errenvelope

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// readmeJSON is the JSON config example of docs/deployment.md.
const readmeJSON = `{
	"handler": "error_envelope",
	"statuses": ["4xx", "5xx"],
	"code_prefix": "APIG",
	"map_status": [
		{"status": "404", "error_code": "APIG.0101", "error_msg": "API not found."},
		{"status": "502", "error_code": "APIG.0201", "error_msg": "Backend unavailable."},
		{"status": "504", "error_code": "APIG.0201", "error_msg": "Backend timeout."},
		{"status": "429", "error_code": "APIG.0308"}
	],
	"map_code": [
		{"upstream_code": "USER_NOT_FOUND", "error_code": "IAM.0404", "error_msg": "User not found."}
	],
	"upstream_message": "4xx",
	"code_pattern": "^[A-Z]+\\.\\d{4}$",
	"request_id": "{http.request.uuid}",
	"fields": [{"name": "service", "value": "orders"}],
	"max_body": 1048576,
	"max_message": 512,
	"gateway_errors": true,
	"mode": "rewrite"
}`

func TestJSONConfig(t *testing.T) {
	var h Handler
	if err := json.Unmarshal([]byte(readmeJSON), &h); err != nil {
		t.Fatal(err)
	}
	newTestHandler(t, &h)
	req := httptest.NewRequest(http.MethodGet, "/users/7", nil)
	repl := caddyhttp.NewTestReplacer(req)
	req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, repl))
	rec := httptest.NewRecorder()
	err := h.ServeHTTP(rec, req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req-1")
		w.WriteHeader(404)
		_, _ = io.WriteString(w, `{"code":"USER_NOT_FOUND","message":"no user 7"}`)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"error_msg":"User not found.","error_code":"IAM.0404","request_id":"req-1","service":"orders"}`
	if rec.Code != 404 || rec.Body.String() != want {
		t.Fatalf("got %d %s, want 404 %s", rec.Code, rec.Body.String(), want)
	}
}

func TestJSONConfigErrors(t *testing.T) {
	tests := []struct{ json, wantErr string }{
		{`{"statuses":["600"]}`, `statuses: invalid status "600"`},
		{`{"statuses":["500-400"]}`, `statuses: invalid status "500-400": range runs backwards`},
		{`{"mode":"dry-run"}`, `mode "dry-run": must be rewrite or report`},
		{`{"upstream_message":"some"}`, `upstream_message "some"`},
		{`{"max_body":-1}`, `max_body -1: must be between 1 byte and 1 GiB`},
		{`{"max_message":-5}`, `max_message -5: must be positive`},
		{`{"code_pattern":"("}`, `code_pattern "(": error parsing regexp`},
		{`{"map_status":[{"status":"4xy","error_code":"A.1"}]}`, `map_status #1: invalid status "4xy"`},
		{`{"map_code":[{"upstream_code":"X","error_code":""}]}`, `map_code X: error_code is empty`},
		{`{"fields":[{"name":"request_id","value":"x"}]}`, `field "request_id": name already used`},
		// keep_body holds its bytes within what max_body holds (§12, §6).
		{`{"max_body":1024,"keep_body":1025}`, `keep_body 1025: must not exceed max_body (1024 bytes)`},
		{`{"keep_body":1048577}`, `keep_body 1048577: must not exceed max_body (1048576 bytes)`},
		{`{"scrub":["credentials","passwords"]}`, `scrub "passwords": unknown detector`},
		{`{"scrub":["off","sql"]}`, `scrub "off sql": off turns every detector off`},
		{`{"scrub_patterns":[{"pattern":"a|"}]}`, `scrub_pattern "a|": matches the empty string`},
		{`{"scrub_patterns":[{"pattern":"\\b"}]}`, `scrub_pattern "\\b": matches the empty string`},
		{`{"scrub_patterns":[{"pattern":"ok"},{"pattern":"(("}]}`, `scrub_pattern "((": error parsing regexp`},
		{`{"type_base":"errors.html"}`, `type_base "errors.html": want an absolute http or https URL`},
		// Inline catalogs are checked as files are, and named by their place.
		{`{"inline_catalogs":[{"errors":[{"code":"X.1","status":404,"message":"Nope.","upstream_code":["NF"]}]}]}`,
			`inline_catalogs[0]: errors[0] (code "X.1"): unknown member "upstream_code"`},
		{`{"inline_catalogs":[{"errors":[]},{"lang":"de","errors":[]}]}`, `inline_catalogs[1]: unknown member "lang"`},
		{`{"inline_catalogs":[{"errors":[{"code":"X.1","status":404,"message":"A."}]},{"errors":[{"code":"X.1","status":404,"message":"B."}]}]}`,
			`inline_catalogs[1]: errors[0] (code "X.1"): status: code "X.1" with status 404 is already errors[0] (code "X.1") of inline_catalogs[0]`},
		{`{"catalogs":["testdata/orders.json"],"inline_catalogs":[{"errors":[{"code":"ORD.0404","status":404,"message":"B."}]}]}`,
			`inline_catalogs[0]: errors[0] (code "ORD.0404"): status: code "ORD.0404" with status 404 is already errors[1] (code "ORD.0404") of catalog "testdata/orders.json"`},
		{`{"inline_catalogs":[[1]]}`, `inline_catalogs[0]: want an object with the members language and errors`},
		{`{"unknown_codes":"rewrite","inline_catalogs":[]}`, `unknown_codes rewrite: needs a catalog`},
	}
	for _, tt := range tests {
		var h Handler
		if err := json.Unmarshal([]byte(tt.json), &h); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		err := h.Provision(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error = %v, want it to contain %q", tt.json, err, tt.wantErr)
		}
	}
}
