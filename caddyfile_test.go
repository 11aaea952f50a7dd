package errenvelope

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func boolPtr(b bool) *bool { return &b }

func TestUnmarshalCaddyfile(t *testing.T) {
	input := `error_envelope {
		statuses 4xx 500-599
		code_prefix APIG
		map_status 404 APIG.0101 "API not found."
		map_status 5xx APIG.0201
		map_code USER_NOT_FOUND IAM.0404 "User not found."
		map_code RATE_LIMITED APIG.0308
		upstream_message all
		code_pattern ^[A-Z]+\.\d{4}$
		request_id
		field trace {http.request.uuid}
		field service orders
		max_body 64KiB
		max_message 200
		gateway_errors off
		mode report
		scrub credentials emails
		scrub_pattern INT-[0-9]{6} [ticket]
		scrub_pattern acct-[0-9]+
		type_base https://api.example.com/errors
	}`
	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err != nil {
		t.Fatal(err)
	}
	want := Handler{
		Statuses:   []string{"4xx", "500-599"},
		CodePrefix: "APIG",
		MapStatus: []StatusRule{
			{Status: "404", ErrorCode: "APIG.0101", ErrorMsg: "API not found."},
			{Status: "5xx", ErrorCode: "APIG.0201"},
		},
		MapCode: []CodeRule{
			{UpstreamCode: "USER_NOT_FOUND", ErrorCode: "IAM.0404", ErrorMsg: "User not found."},
			{UpstreamCode: "RATE_LIMITED", ErrorCode: "APIG.0308"},
		},
		UpstreamMessage: "all",
		CodePattern:     `^[A-Z]+\.\d{4}$`,
		RequestID:       "{http.request.uuid}",
		Fields:          []Field{{Name: "trace", Value: "{http.request.uuid}"}, {Name: "service", Value: "orders"}},
		MaxBody:         64 << 10,
		MaxMessage:      200,
		GatewayErrors:   boolPtr(false),
		Mode:            "report",
		Scrub:           []string{"credentials", "emails"},
		TypeBase:        "https://api.example.com/errors",
		ScrubPatterns:   []ScrubPattern{{Pattern: "INT-[0-9]{6}", Mark: "[ticket]"}, {Pattern: "acct-[0-9]+"}},
	}
	// Compare what reaches the JSON config: the exported fields.
	got, _ := json.MarshalIndent(h, "", "  ")
	exp, _ := json.MarshalIndent(want, "", "  ")
	if string(got) != string(exp) {
		t.Fatalf("parsed\n%s\nwant\n%s", got, exp)
	}

	var empty Handler
	if err := empty.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`error_envelope`)); err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(empty); string(got) != "{}" {
		t.Fatalf("bare directive parsed to %s, want the zero config", got)
	}
	var rid Handler
	if err := rid.UnmarshalCaddyfile(caddyfile.NewTestDispenser("error_envelope {\n request_id {http.request.header.X-Trace}\n}")); err != nil {
		t.Fatal(err)
	}
	if rid.RequestID != "{http.request.header.X-Trace}" {
		t.Fatalf("request_id with a value = %q", rid.RequestID)
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	tests := []struct {
		name, input, wantErr string
	}{
		{"unknown subdirective", "error_envelope {\n\tstatus 404\n}", `unrecognized subdirective "status"`},
		{"argument on the directive", "error_envelope 404", "wrong argument count"},
		{"status over 599", "error_envelope {\n\tstatuses 4xx 600\n}", `statuses: invalid status "600"`},
		{"bad class", "error_envelope {\n\tstatuses 4xy\n}", `statuses: invalid status "4xy"`},
		{"backwards range", "error_envelope {\n\tstatuses 500-400\n}", `statuses: invalid status "500-400": range runs backwards`},
		{"no statuses", "error_envelope {\n\tstatuses\n}", "statuses: want at least one"},
		{"map_status bad status", "error_envelope {\n\n\tmap_status 600 X.1\n}", `map_status: invalid status "600"`},
		{"map_status without code", "error_envelope {\n\tmap_status 404\n}", "map_status: want <status> <error_code> [<error_msg>], got 1 arguments"},
		{"map_status empty code", "error_envelope {\n\tmap_status 404 \"\"\n}", "map_status 404: error_code is empty"},
		{"map_code too many", "error_envelope {\n\tmap_code A B C D\n}", "map_code: want <upstream_code> <error_code> [<error_msg>], got 4 arguments"},
		{"map_code empty", "error_envelope {\n\tmap_code \"\" B\n}", "map_code: upstream code and error_code must not be empty"},
		{"bad upstream_message", "error_envelope {\n\tupstream_message sometimes\n}", `upstream_message "sometimes": must be 4xx, 5xx, all or none`},
		{"bad regexp", "error_envelope {\n\tcode_pattern ^[A-Z+$\n}", `code_pattern "^[A-Z+$": error parsing regexp`},
		{"bad size", "error_envelope {\n\tmax_body lots\n}", `max_body "lots": want a size`},
		{"zero size", "error_envelope {\n\tmax_body 0\n}", `max_body "0": want a size`},
		{"bad max_message", "error_envelope {\n\tmax_message -3\n}", `max_message "-3": want a positive number`},
		{"bad gateway_errors", "error_envelope {\n\tgateway_errors maybe\n}", `gateway_errors "maybe": want on or off`},
		{"bad mode", "error_envelope {\n\tmode dry-run\n}", `mode "dry-run": want rewrite or report`},
		{"field without value", "error_envelope {\n\tfield service\n}", "field: want <name> <value>, got 1 arguments"},
		{"request_id two values", "error_envelope {\n\trequest_id a b\n}", "request_id: want at most one value"},
		{"code_prefix missing", "error_envelope {\n\tcode_prefix\n}", "code_prefix: want exactly one non-empty prefix"},
		{"duplicate map_status", "error_envelope {\n\tmap_status 404 A.1\n\tmap_status 404 A.2\n}", "map_status 404: duplicate rule"},
		{"duplicate map_code", "error_envelope {\n\tmap_code X A.1\n\tmap_code X A.2\n}", "map_code X: duplicate rule"},
		{"duplicate field", "error_envelope {\n\tfield a 1\n\tfield a 2\n}", `field "a": name already used`},
		{"field named like the envelope", "error_envelope {\n\tfield error_code x\n}", `field "error_code": name already used`},
		{"code_pattern a configured code fails", "error_envelope {\n\tcode_pattern ^APIG\\.\\d{4}$\n\tcode_prefix APIG\n\tmap_status 404 NOTFOUND\n}", `rejects the configured map_status code "NOTFOUND"`},
		{"code_pattern the fallback fails", "error_envelope {\n\tcode_pattern ^IAM\n}", `rejects the fallback code "GATEWAY.0400"`},
		{"scrub unknown detector", "error_envelope {\n\tscrub credentials secrets\n}", `scrub "secrets": unknown detector; known: credentials, addresses, traces, sql, emails, paths`},
		{"scrub off with detectors", "error_envelope {\n\tscrub off sql\n}", `scrub "off sql": off turns every detector off, so it stands alone`},
		{"scrub named twice", "error_envelope {\n\tscrub sql sql\n}", `scrub "sql": named twice`},
		{"scrub without detectors", "error_envelope {\n\tscrub\n}", "scrub: want off or detectors (credentials, addresses, traces, sql, emails, paths)"},
		{"scrub_pattern bad regexp", "error_envelope {\n\tscrub_pattern INT-[0-9\n}", `scrub_pattern "INT-[0-9": error parsing regexp`},
		{"scrub_pattern matches empty", "error_envelope {\n\tscrub_pattern x*\n}", `scrub_pattern "x*": matches the empty string`},
		{"scrub_pattern too many", "error_envelope {\n\tscrub_pattern a b c\n}", "scrub_pattern: want <regexp> [<mark>], got 3 arguments"},
		{"type_base relative", "error_envelope {\n\ttype_base /errors\n}", `type_base "/errors": want an absolute http or https URL without a fragment`},
		{"type_base with a fragment", "error_envelope {\n\ttype_base https://x.example/errors#top\n}", `type_base "https://x.example/errors#top": want an absolute`},
		{"type_base other scheme", "error_envelope {\n\ttype_base urn:errors\n}", `type_base "urn:errors": want an absolute`},
		{"type_base with a password", "error_envelope {\n\ttype_base https://u:pw@x.example/errors\n}", "a user name or password has no place in a public URL"},
		{"type_base without a host", "error_envelope {\n\ttype_base https://:8080/errors\n}", `type_base "https://:8080/errors": want an absolute`},
		{"type_base two", "error_envelope {\n\ttype_base https://a.example https://b.example\n}", "type_base: want one URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), ", at Testfile:") {
				t.Fatalf("error = %v, want it to contain %q and the line", err, tt.wantErr)
			}
		})
	}
}

// TestDuplicateNamesItsLine: a duplicate rule is reported at its own line.
func TestDuplicateNamesItsLine(t *testing.T) {
	for _, input := range []string{
		"error_envelope {\n\tmap_status 404 A.1\n\tmap_status 404 A.2\n\tmode report\n}",
		"error_envelope {\n\tmap_code X A.1\n\tmap_code X A.2\n\tmode report\n}",
		"error_envelope {\n\tfield a 1\n\tfield a 2\n\tmode report\n}",
		"error_envelope {\n\tscrub_pattern a\n\tscrub_pattern b*\n\tmode report\n}",
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
		if err == nil || !strings.HasSuffix(err.Error(), "at Testfile:3") {
			t.Errorf("%q: error = %v, want it at line 3", input, err)
		}
	}
}

// TestAdaptCaddyfile runs the Caddyfile adapter as `caddy adapt` does: the
// directives need no order option; error_envelope sits inside encode and
// before the handlers that answer, error_catalog after metrics and before
// reverse_proxy; and bad options name the file and line.
func TestAdaptCaddyfile(t *testing.T) {
	adapter := caddyconfig.GetAdapter("caddyfile")
	out, warnings, err := adapter.Adapt([]byte(`:8080 {
	reverse_proxy 127.0.0.1:9
	error_catalog /errors
	metrics /metrics
	respond /x 404
	error_envelope /api/* {
		map_status 404 APIG.0101 "API not found."
	}
	encode gzip
}`), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warnings {
		if w.Directive != "" {
			t.Fatalf("warning: %v", w)
		}
	}
	s := string(out)
	iEncode := strings.Index(s, `"handler":"encode"`)
	iEnvelope := strings.Index(s, `"handler":"error_envelope"`)
	iRespond := strings.Index(s, `"handler":"static_response"`)
	iMetrics := strings.Index(s, `"handler":"metrics"`)
	iCatalog := strings.Index(s, `"handler":"error_catalog"`)
	iProxy := strings.Index(s, `"handler":"reverse_proxy"`)
	if iEncode < 0 || iEnvelope < iEncode || iRespond < iEnvelope || iMetrics < iRespond || iCatalog < iMetrics || iProxy < iCatalog {
		t.Fatalf("want encode, error_envelope, respond, metrics, error_catalog, then reverse_proxy; got %s", s)
	}
	if !strings.Contains(s, `"map_status":[{"error_code":"APIG.0101","error_msg":"API not found.","status":"404"}]`) {
		t.Fatalf("map_status not in adapted JSON: %s", s)
	}

	// Adapting converts syntax only: a catalog that is not here adapts,
	// and loading the config names it.
	out, _, err = adapter.Adapt([]byte(":8080 {\n\terror_envelope {\n\t\tcatalog nowhere/apig.json\n\t\tunknown_codes rewrite\n\t}\n}"), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting a Caddyfile whose catalog is elsewhere: %v", err)
	}
	var cfg caddy.Config
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&cfg); err == nil || !strings.Contains(err.Error(), `catalog "nowhere/apig.json"`) {
		t.Fatalf("validate error = %v, want it to name the missing catalog", err)
	}

	_, _, err = adapter.Adapt([]byte(":8080 {\n\terror_envelope {\n\t\tstatuses 4xx 700\n\t}\n}"), map[string]any{"filename": "Caddyfile"})
	if err == nil || !strings.Contains(err.Error(), `Caddyfile:3`) || !strings.Contains(err.Error(), `statuses: invalid status "700"`) {
		t.Fatalf("adapt error = %v, want Caddyfile:3 and the bad status", err)
	}
}
