package errenvelope

import (
	"encoding/json"
	"strconv"
	"testing"
)

const ctProblem = "application/problem+json"

// TestProblemDetails: with problem_details on, clients that prefer
// problem details by Accept get them; every other client sees the
// envelope, and every examined response varies by Accept.
func TestProblemDetails(t *testing.T) {
	startGateway(t)
	html := reply{status: 404, header: h("Content-Type", ctHTML, "X-Request-Id", "rid-1"), body: expressHTML}
	envelope := `{"error_msg":"Order ORD-7 is locked.","error_code":"ORD.0409"}`
	problemNotFound := `{"type":"about:blank","title":"Not Found","status":404,"detail":"Bad order request.","error_msg":"Bad order request.","error_code":"ORD.4000","request_id":"rid-1","service":"orders"}`
	jsonNotFound := `{"error_msg":"Bad order request.","error_code":"ORD.4000","request_id":"rid-1","service":"orders"}`
	rows := []row{
		{name: "no accept gets the envelope", reply: html,
			wantStatus: 404, wantBody: jsonNotFound, envelope: true, extraMembers: []string{"request_id", "service"},
			wantHeader: h("Vary", "Accept")},
		{name: "problem+json alone gets problem details", reply: html, header: h("Accept", ctProblem),
			wantStatus: 404, wantBody: problemNotFound, wantHeader: h("Content-Type", ctProblem, "Vary", "Accept", "Content-Length", strconv.Itoa(len(problemNotFound)))},
		{name: "problem+json ranked above json by q", reply: html, header: h("Accept", "application/json;q=0.5, application/problem+json"),
			wantStatus: 404, wantBody: problemNotFound, wantHeader: h("Content-Type", ctProblem)},
		{name: "json ranked above problem+json by q", reply: html, header: h("Accept", "application/problem+json;q=0.5, application/json"),
			wantStatus: 404, wantBody: jsonNotFound, wantHeader: h("Content-Type", envHeader)},
		{name: "a tie gets the envelope", reply: html, header: h("Accept", "application/problem+json, application/json"),
			wantStatus: 404, wantBody: jsonNotFound, wantHeader: h("Content-Type", envHeader)},
		{name: "star slash star alone gets the envelope", reply: html, header: h("Accept", "*/*"),
			wantStatus: 404, wantBody: jsonNotFound, wantHeader: h("Content-Type", envHeader)},
		{name: "problem+json above application star", reply: html, header: h("Accept", "application/*;q=0.9, application/problem+json"),
			wantStatus: 404, wantBody: problemNotFound, wantHeader: h("Content-Type", ctProblem)},
		{name: "problem+json at q=0 is refused", reply: html, header: h("Accept", "application/problem+json;q=0, */*;q=0.1"),
			wantStatus: 404, wantBody: jsonNotFound, wantHeader: h("Content-Type", envHeader)},
		{name: "catalog type and message in problem details",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON, "X-Request-Id", "rid-2"), body: `{"code":"INVALID_ORDER","message":"bad"}`},
			header:     h("Accept", ctProblem),
			wantStatus: 400, wantBody: `{"type":"https://docs.example.com/errors/ORD.0001","title":"Bad Request","status":400,"detail":"The order is invalid.","error_msg":"The order is invalid.","error_code":"ORD.0001","request_id":"rid-2","service":"orders"}`,
			wantHeader: h("Content-Type", ctProblem, "Content-Language", "en", "Vary", "Accept, Accept-Language, X-Language")},
		{name: "conforming problem details pass byte for byte",
			reply:      reply{status: 409, header: h("Content-Type", ctProblem), body: `{"type":"about:blank","title":"Conflict","status":409,"detail":"Locked.","error_msg":"Locked.","error_code":"ORD.0409"}`},
			header:     h("Accept", ctProblem),
			wantStatus: 409, wantBody: `{"type":"about:blank","title":"Conflict","status":409,"detail":"Locked.","error_msg":"Locked.","error_code":"ORD.0409"}`,
			wantHeader: h("Content-Type", ctProblem, "Vary", "Accept")},
		{name: "an envelope is reformatted with its own code and message",
			reply:      reply{status: 503, header: h("Content-Type", ctJSON, "X-Request-Id", "rid-3"), body: envelope},
			header:     h("Accept", ctProblem),
			wantStatus: 503, wantBody: `{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"Order ORD-7 is locked.","error_msg":"Order ORD-7 is locked.","error_code":"ORD.0409","request_id":"rid-3","service":"orders"}`,
			wantHeader: h("Content-Type", ctProblem)},
		{name: "an envelope passes for a json client and gains vary",
			reply:      reply{status: 409, header: h("Content-Type", ctJSON, "Vary", "Origin"), body: envelope},
			wantStatus: 409, wantBody: envelope, wantHeader: h("Content-Type", ctJSON, "Vary", "Origin, Accept")},
		{name: "problem details for a json client are rewritten",
			reply:      reply{status: 409, header: h("Content-Type", ctProblem, "X-Request-Id", "rid-4"), body: `{"type":"about:blank","title":"Conflict","status":409,"detail":"Locked.","error_msg":"Locked.","error_code":"ORD.0409"}`},
			wantStatus: 409, wantBody: `{"error_msg":"Locked.","error_code":"ORD.0409","request_id":"rid-4","service":"orders"}`, envelope: true, extraMembers: []string{"request_id", "service"}},
	}
	for _, rw := range rows {
		rw.route = "/problem"
		t.Run(rw.name, func(t *testing.T) {
			rw.run(t)
			if !json.Valid([]byte(rw.wantBody)) {
				t.Errorf("want body is not JSON: %s", rw.wantBody)
			}
		})
	}
	t.Run("gateway error as problem details", func(t *testing.T) {
		row{name: "down", route: "/problem-down", header: h("Accept", ctProblem),
			wantStatus: 502, wantBody: `{"type":"about:blank","title":"Bad Gateway","status":502,"detail":"Bad Gateway","error_msg":"Bad Gateway","error_code":"GATEWAY.0502"}`,
			wantHeader: h("Content-Type", ctProblem, "Vary", "Accept")}.run(t)
	})
	t.Run("off by default: nothing changes", func(t *testing.T) {
		row{name: "off", route: "/default", header: h("Accept", ctProblem), reply: html,
			wantStatus: 404, wantBody: env("Not Found", "GATEWAY.0404"), envelope: true, wantHeader: h("Vary", "")}.run(t)
	})
}

// TestPrefersProblem: Accept negotiation by q value, as SPEC §11.3 says.
func TestPrefersProblem(t *testing.T) {
	tests := []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"application/problem+json", true},
		{"application/json", false},
		{"*/*", false},
		{"application/problem+json, */*;q=0.8", true},
		{"application/json, application/problem+json", false},
		{"application/problem+json;q=0.9, application/json;q=0.8", true},
		{"APPLICATION/PROBLEM+JSON", true},
		{"application/problem+json;q=abc", true}, // a bad q counts as 1
		{"text/html, application/*;q=0.2", false},
	}
	for _, tt := range tests {
		var accept []string
		if tt.accept != "" {
			accept = []string{tt.accept}
		}
		if got := prefersProblem(accept); got != tt.want {
			t.Errorf("Accept %q: prefers problem = %v, want %v", tt.accept, got, tt.want)
		}
	}
}

// TestTypeBase: type_base gives every code without a type of its own the
// reference's row as its problem type; a catalog entry's own type stays.
func TestTypeBase(t *testing.T) {
	for base, want := range map[string][2]string{
		"":                               {"https://docs.example.com/errors/ORD.0001", "about:blank"},
		"https://api.example.com/errors": {"https://docs.example.com/errors/ORD.0001", "https://api.example.com/errors#GATEWAY.0502"},
	} {
		h := &Handler{Catalogs: []string{"testdata/orders.json"}, TypeBase: base}
		if err := h.compile(); err != nil {
			t.Fatal(err)
		}
		if got := [2]string{h.policy.problemType("ORD.0001", 400, nil), h.policy.problemType("GATEWAY.0502", 502, nil)}; got != want {
			t.Errorf("type_base %q: types %q, want %q", base, got, want)
		}
	}
	// A code is escaped as the URL's fragment.
	h := &Handler{TypeBase: "https://api.example.com/errors"}
	if err := h.compile(); err != nil {
		t.Fatal(err)
	}
	if got := h.policy.problemType("BAD CODE#1/ü", 400, nil); got != "https://api.example.com/errors#BAD%20CODE%231/%C3%BC" {
		t.Errorf("type %q", got)
	}
}
