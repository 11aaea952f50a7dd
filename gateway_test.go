package errenvelope

import (
	"strings"
	"testing"
)

// TestGatewayErrors: errors the gateway raises itself (SPEC §5).
func TestGatewayErrors(t *testing.T) {
	startGateway(t)
	rows := []row{
		{name: "upstream refusing connections", route: "/down",
			wantStatus: 502, wantBody: env("Bad Gateway", "GATEWAY.0502"), envelope: true},
		{name: "upstream refusing connections with rules", route: "/mapped-down",
			wantStatus: 502, wantBody: env("Backend unavailable.", "APIG.0201"), envelope: true},
		{name: "response_header_timeout", route: "/slow",
			reply:      reply{status: 200, delay: 3e9, body: "late"},
			wantStatus: 504, wantBody: env("Gateway Timeout", "GATEWAY.0504"), envelope: true},
		{name: "response_header_timeout with rules", route: "/mapped-slow",
			reply:      reply{status: 200, delay: 3e9, body: "late"},
			wantStatus: 504, wantBody: env("Backend timeout.", "APIG.0201"), envelope: true},
		{name: "error directive", route: "/error",
			wantStatus: 503, wantBody: env("Service Unavailable", "GATEWAY.0503"), envelope: true},
		{name: "basic_auth inside a route, as the docs' recipe", route: "/auth",
			wantStatus: 401, wantBody: env("Unauthorized", "GATEWAY.0401"), envelope: true,
			wantHeader: h("WWW-Authenticate", `Basic realm="restricted"`)},
		{name: "gateway_errors off leaves the error to handle_errors", route: "/untouched-down",
			wantStatus: 502, wantBody: "handle_errors saw 502"},
	}
	for _, rw := range rows {
		t.Run(rw.name, rw.run)
	}

	// The Go error text names addresses and internals; none of it may
	// reach the client.
	for _, p := range []string{"/down/x", "/slow" + path("leak-slow", reply{status: 200, delay: 3e9}), "/error/x"} {
		_, body := get(t, p)
		for _, secret := range []string{"dial tcp", "127.0.0.1", closedAddr, "10.1.2.3", "connection refused", "timeout", "database", "admin"} {
			if strings.Contains(string(body), secret) {
				t.Errorf("%s: body %q leaks %q", p, body, secret)
			}
		}
	}
}
