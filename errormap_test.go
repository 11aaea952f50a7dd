package errenvelope

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestParseStatusSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    statusSpec
		wantErr string
	}{
		{in: "404", want: statusSpec{lo: 404, hi: 404}},
		{in: "4xx", want: statusSpec{lo: 400, hi: 499, class: true}},
		{in: "5XX", want: statusSpec{lo: 500, hi: 599, class: true}},
		{in: "500-599", want: statusSpec{lo: 500, hi: 599}},
		{in: "429-429", want: statusSpec{lo: 429, hi: 429}},
		{in: "600", wantErr: `invalid status "600": status must be within 400-599`},
		{in: "399", wantErr: `invalid status "399": status must be within 400-599`},
		{in: "4xy", wantErr: `invalid status "4xy"`},
		{in: "3xx", wantErr: `invalid status "3xx": a class must be 4xx or 5xx`},
		{in: "500-400", wantErr: `invalid status "500-400": range runs backwards`},
		{in: "40", wantErr: `invalid status "40"`},
		{in: "+40", wantErr: `invalid status "+40"`},
		{in: "", wantErr: `invalid status ""`},
		{in: "500-", wantErr: `invalid status "500-"`},
		{in: "abc", wantErr: `invalid status "abc"`},
	}
	for _, tt := range tests {
		got, err := parseStatusSpec(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseStatusSpec(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseStatusSpec(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestStatusRuleLookup(t *testing.T) {
	rules := []StatusRule{
		{Status: "4xx", ErrorCode: "CLASS.4"},
		{Status: "400-499", ErrorCode: "RANGE.WIDE"},
		{Status: "400-409", ErrorCode: "RANGE.400-409"},
		{Status: "405-415", ErrorCode: "RANGE.405-415"}, // as wide as 400-409 (+1): narrower wins only strictly
		{Status: "404", ErrorCode: "EXACT.404"},
		{Status: "500-503", ErrorCode: "FIRST.500-503"},
		{Status: "502-505", ErrorCode: "SECOND.502-505"}, // same width: first written wins at 502, 503
		{Status: "5xx", ErrorCode: "CLASS.5"},
	}
	m, err := compileErrorMap(rules, nil, "GW", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		status int
		want   string
	}{
		{"exact status beats every range", 404, "EXACT.404"},
		{"narrower range beats a wider one", 401, "RANGE.400-409"},
		{"the narrowest of two overlapping ranges", 406, "RANGE.400-409"},
		{"range of its own", 412, "RANGE.405-415"},
		{"range beats a class of the same width", 450, "RANGE.WIDE"},
		{"first written wins at equal specificity", 502, "FIRST.500-503"},
		{"first written wins at equal specificity (end)", 503, "FIRST.500-503"},
		{"second range where the first does not reach", 504, "SECOND.502-505"},
		{"class when nothing narrower", 599, "CLASS.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := m.byStatus[tt.status-minStatus]
			if r == nil || r.code != tt.want {
				t.Fatalf("rule of %d = %+v, want code %s", tt.status, r, tt.want)
			}
		})
	}
	if got := m.fallbackCode(404); got != "GW.0404" {
		t.Errorf("fallbackCode(404) = %q, want GW.0404", got)
	}
}

func TestCompileErrorMapErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  []StatusRule
		code    []CodeRule
		wantErr string
	}{
		{"bad status", []StatusRule{{Status: "600", ErrorCode: "X"}}, nil, `map_status #1: invalid status "600"`},
		{"empty code", []StatusRule{{Status: "404", ErrorCode: ""}}, nil, "map_status 404: error_code is empty"},
		{"duplicate status", []StatusRule{{Status: "404", ErrorCode: "A"}, {Status: "404", ErrorCode: "B"}}, nil, "map_status 404: duplicate rule"},
		{"empty upstream code", nil, []CodeRule{{UpstreamCode: "", ErrorCode: "A"}}, "map_code: upstream code is empty"},
		{"empty map_code code", nil, []CodeRule{{UpstreamCode: "X", ErrorCode: ""}}, "map_code X: error_code is empty"},
		{"duplicate upstream code", nil, []CodeRule{{UpstreamCode: "X", ErrorCode: "A"}, {UpstreamCode: "X", ErrorCode: "B"}}, "map_code X: duplicate rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileErrorMap(tt.status, tt.code, "GW", nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// chosen is the code and message choose picks.
type chosen struct{ code, msg string }

func TestChoose(t *testing.T) {
	h := &Handler{
		CodePattern: `^[A-Z]+\.\d{4}$`,
		CodePrefix:  "GW",
		MapStatus: []StatusRule{
			{Status: "404", ErrorCode: "APIG.0101", ErrorMsg: "No such route."},
			{Status: "5xx", ErrorCode: "APIG.0201"},
		},
		MapCode: []CodeRule{
			{UpstreamCode: "USER_NOT_FOUND", ErrorCode: "IAM.0404", ErrorMsg: "User not found."},
			{UpstreamCode: "RATE", ErrorCode: "APIG.0308"},
		},
	}
	if err := h.compile(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		status int
		up     upstreamWords
		want   chosen
	}{
		{"map_code beats everything", 404, upstreamWords{code: "USER_NOT_FOUND", errorCode: "IAM.0001", msg: "nope"},
			chosen{code: "IAM.0404", msg: "User not found."}},
		{"map_code without message falls to the upstream message", 429, upstreamWords{code: "RATE", msg: "slow down"},
			chosen{code: "APIG.0308", msg: "slow down"}},
		{"upstream error_code kept when it matches the pattern", 400, upstreamWords{errorCode: "IAM.0011", code: "IAM.0011", msg: "Bad body."},
			chosen{code: "IAM.0011", msg: "Bad body."}},
		{"upstream error_code dropped when it fails the pattern", 404, upstreamWords{errorCode: "iam-11", code: "iam-11"},
			chosen{code: "APIG.0101", msg: "No such route."}},
		{"upstream message beats the rule message on 4xx", 404, upstreamWords{msg: "user 7 not found"},
			chosen{code: "APIG.0101", msg: "user 7 not found"}},
		{"5xx upstream message withheld by default", 500, upstreamWords{msg: "NullPointerException at Foo.java:12"},
			chosen{code: "APIG.0201", msg: "Internal Server Error"}},
		{"fallback code and reason phrase", 409, upstreamWords{},
			chosen{code: "GW.0409", msg: "Conflict"}},
		{"status without a reason phrase says Error", 499, upstreamWords{},
			chosen{code: "GW.0499", msg: "Error"}},
		{"blank upstream message does not count", 400, upstreamWords{msg: " \n\t "},
			chosen{code: "GW.0400", msg: "Bad Request"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decision{status: tt.status}
			h.policy.choose(&d, tt.up, nil, nil)
			if got := (chosen{code: d.code, msg: d.msg}); got != tt.want {
				t.Fatalf("choose = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUpstreamMessagePolicy(t *testing.T) {
	tests := []struct {
		policy       string
		on400, on500 bool
	}{
		{"", true, false},
		{"4xx", true, false},
		{"5xx", false, true},
		{"all", true, true},
		{"none", false, false},
	}
	for _, tt := range tests {
		set, err := upstreamPolicy(tt.policy)
		if err != nil {
			t.Fatal(err)
		}
		if set.has(400) != tt.on400 || set.has(500) != tt.on500 {
			t.Errorf("upstream_message %q: 400=%v 500=%v, want %v %v", tt.policy, set.has(400), set.has(500), tt.on400, tt.on500)
		}
	}
	if _, err := upstreamPolicy("sometimes"); err == nil || !strings.Contains(err.Error(), `upstream_message "sometimes"`) {
		t.Errorf("bad policy error = %v", err)
	}
}

func TestCodePatternChecksConfiguredCodes(t *testing.T) {
	tests := []struct {
		name    string
		h       Handler
		wantErr string
	}{
		{"map_status code", Handler{CodePattern: `^APIG\.\d{4}$`, MapStatus: []StatusRule{{Status: "4xx", ErrorCode: "APIG.0100"}, {Status: "5xx", ErrorCode: "bad"}}},
			`code_pattern "^APIG\\.\\d{4}$" rejects the configured map_status code "bad"`},
		{"map_code code", Handler{CodePattern: `^APIG\.\d{4}$`, CodePrefix: "APIG", MapCode: []CodeRule{{UpstreamCode: "X", ErrorCode: "nope"}}},
			`rejects the configured map_code code "nope"`},
		{"fallback code", Handler{CodePattern: `^IAM\.\d{4}$`},
			`rejects the fallback code "GATEWAY.0400"`},
		{"bad regexp", Handler{CodePattern: `(`}, `code_pattern "(": error parsing regexp`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.h.compile()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	ok := Handler{CodePattern: `^APIG\.\d{4}$`, CodePrefix: "APIG"}
	if err := ok.compile(); err != nil {
		t.Fatalf("pattern matching every code: %v", err)
	}
}

// TestMessageThatCleansToNothing: a configured message that is only space
// does not count, so the catalog's message of the code is sent, in the
// client's language, whether the envelope was encoded at load or is
// built per request (request_id, a placeholder field, problem details).
func TestMessageThatCleansToNothing(t *testing.T) {
	cat := writeCatalog(t, t.TempDir(), "c.json", `{"errors":[{"code":"X.NF","status":404,"message":"Nothing here.","messages":{"de":"Nichts hier."}}]}`)
	for _, h := range []*Handler{
		{Catalogs: []string{cat}, MapStatus: []StatusRule{{Status: "404", ErrorCode: "X.NF", ErrorMsg: "   "}}},
		{Catalogs: []string{cat}, MapStatus: []StatusRule{{Status: "404", ErrorCode: "X.NF", ErrorMsg: "   "}}, RequestID: "r-1", ProblemDetails: true},
		{Catalogs: []string{cat}, MapStatus: []StatusRule{{Status: "404", ErrorCode: "X.NF", ErrorMsg: "   "}}, Fields: []Field{{Name: "path", Value: "{http.request.uri.path}"}}},
	} {
		h = newTestHandler(t, h)
		for _, tt := range []struct{ accept, lang, msg string }{
			{"", "", "Nothing here."},
			{"", "de", "Nichts hier."},
			{ctProblem, "de", "Nichts hier."},
		} {
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tt.lang != "" {
				req.Header.Set("X-Language", tt.lang)
			}
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, caddyhttp.NewTestReplacer(req)))
			rec := httptest.NewRecorder()
			_ = h.ServeHTTP(rec, req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(404)
				return nil
			}))
			var got struct {
				Msg string `json:"error_msg"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Msg != tt.msg || rec.Header().Get("Content-Language") != cmp.Or(tt.lang, "en") {
				t.Errorf("%+v %+v: %s (Content-Language %q), want %q", h.MapStatus[0], tt, rec.Body, rec.Header().Get("Content-Language"), tt.msg)
			}
		}
	}
}
