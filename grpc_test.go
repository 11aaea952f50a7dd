package errenvelope

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
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

// TestGRPC: gRPC passes through the handler untouched, and a gRPC client
// whose call ends in a gateway error or an HTML error page gets a gRPC
// status with the envelope's code and message (SPEC §11.2).
func TestGRPC(t *testing.T) {
	startGateway(t)
	client := grpcClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("success passes", func(t *testing.T) {
		res, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("Check = %v, %v", res, err)
		}
	})
	t.Run("a grpc error status passes untouched", func(t *testing.T) {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
		if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != "unknown service" {
			t.Fatalf("Check(nope) = %v, want NotFound unknown service", err)
		}
	})
	t.Run("a server stream passes", func(t *testing.T) {
		stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "orders"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := stream.Recv()
		if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("Watch = %v, %v", res, err)
		}
	})

	path("grpc-html", reply{status: 502, header: h("Content-Type", ctHTML), body: nginxHTML})
	path("grpc-slow", reply{status: 200, delay: time.Second, body: "late"})
	path("grpc-envelope", reply{status: 403, header: h("Content-Type", ctJSON), body: `{"error_msg":"Token expired: 100% sure.","error_code":"IAM.0002"}`})
	before := scrapeCounters(t)["rewritten/format"]
	for _, tt := range []struct {
		route string
		code  codes.Code
		msg   string
		ecode string
	}{
		{"down", codes.Unavailable, "Bad Gateway", "GATEWAY.0502"},
		{"slow", codes.Unavailable, "Gateway Timeout", "GATEWAY.0504"},
		{"html", codes.Unavailable, "Bad Gateway", "GATEWAY.0502"},
		// A conforming JSON envelope, which a gRPC client cannot read:
		// its own code and message, percent-encoded on the wire.
		{"envelope", codes.PermissionDenied, "Token expired: 100% sure.", "IAM.0002"},
	} {
		t.Run("gateway error "+tt.route, func(t *testing.T) {
			var trailer metadata.MD
			rctx := metadata.AppendToOutgoingContext(ctx, "x-route", tt.route)
			_, err := client.Check(rctx, &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))
			st := status.Convert(err)
			if st.Code() != tt.code || st.Message() != tt.msg {
				t.Fatalf("status %v %q, want %v %q (error %v)", st.Code(), st.Message(), tt.code, tt.msg, err)
			}
			if got := trailer.Get("error-code"); len(got) != 1 || got[0] != tt.ecode {
				t.Errorf("error-code = %q, want %q", got, tt.ecode)
			}
			if got := trailer.Get("x-request-id"); len(got) != 1 || len(got[0]) != 36 {
				t.Errorf("x-request-id = %q, want a UUID", got)
			}
		})
	}
	if got := scrapeCounters(t)["rewritten/format"] - before; got != 1 {
		t.Errorf("rewritten/format grew by %v, want 1 (the envelope a gRPC client cannot read)", got)
	}
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
	for st, want := range map[int]int{400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14, 500: 2, 418: 2} {
		if got := grpcCode(st); got != want {
			t.Errorf("grpcCode(%d) = %d, want %d", st, got, want)
		}
	}
}
