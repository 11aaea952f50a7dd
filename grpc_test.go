package errenvelope

import (
	"crypto/tls"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// startGRPCUpstream serves gRPC's health service on loopback and returns
// its address.
func startGRPCUpstream() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("orders", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	go func() { _ = s.Serve(ln) }()
	return ln.Addr().String()
}

// grpcClient talks to the gateway's TLS site with grpc-go.
func grpcClient(t *testing.T) healthpb.HealthClient {
	t.Helper()
	creds := credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}) // Caddy's internal CA, on loopback
	conn, err := grpc.NewClient("127.0.0.1:9443", grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

// TestGRPCResponsesAreNotHeld: a gRPC response with an error status is
// never held or changed (reason grpc), and gRPC's percent-encoding of
// messages and its status table hold.
func TestGRPCResponsesAreNotHeld(t *testing.T) {
	startGateway(t)
	before := scrapeCounters(t)
	for _, ct := range []string{"application/grpc", "application/grpc+proto", "application/grpc-web+proto", "application/grpc-web-text"} {
		row{name: "grpc " + ct, route: "/default",
			reply:      reply{status: 503, header: h("Content-Type", ct, "Grpc-Status", "14"), body: "\x00\x00\x00\x00\x00"},
			wantStatus: 503, wantBody: "\x00\x00\x00\x00\x00", wantHeader: h("Content-Type", ct, "Grpc-Status", "14")}.run(t)
	}
	if got := scrapeCounters(t)["passed/grpc"] - before["passed/grpc"]; got != 4 {
		t.Errorf("passed/grpc grew by %v, want 4", got)
	}
	for in, want := range map[string]string{
		"Bad Gateway":       "Bad Gateway",
		"100% done":         "100%25 done",
		"请求体非法。":            "%E8%AF%B7%E6%B1%82%E4%BD%93%E9%9D%9E%E6%B3%95%E3%80%82",
		"line\nbreak\ttab~": "line%0Abreak%09tab~",
	} {
		if got := grpcPercentEncode(in); got != want {
			t.Errorf("grpcPercentEncode(%q) = %q, want %q", in, got, want)
		}
	}
	for st, want := range map[int]int32{400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14, 500: 2, 418: 2} {
		if got := grpcCode(st); got != want {
			t.Errorf("grpcCode(%d) = %d, want %d", st, got, want)
		}
	}
}
