package errenvelope

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
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
	healthpb.RegisterHealthServer(s, richHealth{hs})
	go func() { _ = s.Serve(ln) }()
	return ln.Addr().String()
}

// richHealth is the health service, whose Check of the service "rich"
// fails with google.rpc.Status details of the upstream's own.
type richHealth struct{ *health.Server }

// upstreamDetails are the details richHealth sends.
var upstreamDetails = []protoadapt.MessageV1{
	&errdetails.ErrorInfo{Reason: "STOCK_EMPTY", Domain: "orders.internal", Metadata: map[string]string{"sku": "A-7"}},
	&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{Subject: "sku:A-7", Description: "no stock"}}},
}

func (h richHealth) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if req.GetService() == "rich" {
		st, err := status.New(codes.FailedPrecondition, "out of stock").WithDetails(upstreamDetails...)
		if err != nil {
			return nil, err
		}
		return nil, st.Err()
	}
	return h.Server.Check(ctx, req)
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

// TestGRPCDetailsEncodedOnce: a static envelope's details are encoded once
// per host and Retry-After (a repeat allocates nothing), each host and
// Retry-After gets its own, and text that is not UTF-8 still gives an
// ErrorInfo.
func TestGRPCDetailsEncodedOnce(t *testing.T) {
	h := newTestHandler(t, &Handler{})
	p := h.policy
	decided := func(host string) (*decision, *http.Request) {
		r := httptest.NewRequest(http.MethodPost, "/grpc.health.v1.Health/Check", nil)
		r.Host = host
		r.Header.Set("Content-Type", "application/grpc")
		d := decision{status: 502, format: formatGRPC, outcome: outcomeGateway}
		p.choose(&d, upstreamWords{}, r, nil)
		if d.static == nil {
			t.Fatal("the 502 envelope is not static")
		}
		return &d, r
	}
	for _, c := range []struct{ host, retryAfter, domain string }{
		{"api.example.com", "", "api.example.com"},
		{"api.example.com:8443", "", "api.example.com"},
		{"other.example.com", "", "other.example.com"},
		{"api.example.com", "5", "api.example.com"},
		{"api.example.com", "9", "api.example.com"},
		{"[::1]:8443", "", "::1"},
		{"[::1]", "", "::1"},
		{"caf\xe9.example", "", "caf\uFFFD.example"},
	} {
		d, r := decided(c.host)
		first := p.grpcDetailsOf(r, d, c.retryAfter)
		if allocs := testing.AllocsPerRun(10, func() { p.grpcDetailsOf(r, d, c.retryAfter) }); allocs != 0 {
			t.Errorf("%s %s: %v allocations a repeat, want none: encoded each time", c.host, c.retryAfter, allocs)
		}
		if fresh := p.grpcStatusDetails(r, d, c.retryAfter); !proto.Equal(decodeDetails(t, fresh), decodeDetails(t, first)) {
			t.Errorf("%s %s: remembered %v, encoded afresh %v", c.host, c.retryAfter, decodeDetails(t, first), decodeDetails(t, fresh))
		}
		st := decodeDetails(t, first)
		var info errdetails.ErrorInfo
		if err := st.GetDetails()[0].UnmarshalTo(&info); err != nil || info.GetDomain() != c.domain || info.GetReason() != "GATEWAY.0502" {
			t.Errorf("%q: ErrorInfo %v (%v), want domain %q", c.host, &info, err, c.domain)
		}
		var retry errdetails.RetryInfo
		switch n := len(st.GetDetails()); {
		case c.retryAfter == "" && n != 1:
			t.Errorf("%s: %d details, want the ErrorInfo alone", c.host, n)
		case c.retryAfter != "" && (n != 2 || st.GetDetails()[1].UnmarshalTo(&retry) != nil ||
			strconv.FormatInt(retry.GetRetryDelay().GetSeconds(), 10) != c.retryAfter):
			t.Errorf("%s %s: details %v, want a RetryInfo of %s s", c.host, c.retryAfter, st.GetDetails(), c.retryAfter)
		}
	}
	// A request ID makes the details the request's own, and one that is
	// not UTF-8 still gives an ErrorInfo.
	d, r := decided("api.example.com")
	d.requestID = "caf\xe9-1"
	var info errdetails.ErrorInfo
	if err := decodeDetails(t, p.grpcDetailsOf(r, d, "")).GetDetails()[0].UnmarshalTo(&info); err != nil || info.GetMetadata()["request_id"] != "caf\uFFFD-1" {
		t.Errorf("ErrorInfo %v (%v), want the request's own request_id", &info, err)
	}
}

// decodeDetails decodes a grpc-status-details-bin value.
func decodeDetails(t *testing.T, v string) *spb.Status {
	t.Helper()
	b, err := base64.RawStdEncoding.DecodeString(v)
	st := new(spb.Status)
	if err == nil {
		err = proto.Unmarshal(b, st)
	}
	if err != nil {
		t.Fatalf("details %q: %v", v, err)
	}
	return st
}
