//go:build !race

package errenvelope

// Real gRPC calls through Caddy run without the race detector: Caddy
// v2.11.9's reverse_proxy wraps a request body it forwards to an h2c
// upstream in reverseproxy.bodyNopCloserIfNotRead, whose Read and Close
// race when the upstream resets the stream after answering, which gRPC
// servers do; -race reports that race in Caddy's code, in whichever test
// runs then. .ci/run runs this test, and TestProtocols with its h2c
// cases, on their own without -race.

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

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
	// '%' and bytes outside printable ASCII go percent-encoded: a client
	// decodes "50%2541" back to "50%41", where "50%41" unencoded would
	// read as "50A".
	path("grpc-percent", reply{status: 409, header: h("Content-Type", ctJSON), body: `{"error_msg":"50%41 done, 还差一半。","error_code":"JOB.0409"}`})
	path("grpc-notfound", reply{status: 404, header: h("Content-Type", ctHTML), body: "<h1>Not Found</h1>"})
	// Scrubbing: a conforming envelope with a password and a host name in
	// it, and a message that is a stack frame.
	path("grpc-leaky", reply{status: 403, header: h("Content-Type", ctJSON), body: `{"error_msg":"invalid credentials for postgres://app:s3cr3t@db.internal:5432/app","error_code":"DB.0403"}`})
	path("grpc-busy", reply{status: 429, header: h("Content-Type", ctHTML, "Retry-After", "7"), body: "<h1>Too Many Requests</h1>"})
	path("grpc-trace", reply{status: 400, header: h("Content-Type", ctJSON), body: `{"message":"NullPointerException at com.example.OrderService.load(OrderService.java:42)"}`})
	path("grpc-unavailable", reply{status: 503, header: h("Content-Type", ctHTML, "Retry-After", "120"), body: "<h1>Service Unavailable</h1>"})
	path("grpc-unavailable-date", reply{status: 503, header: h("Content-Type", ctHTML, "Retry-After", "Wed, 21 Oct 2026 07:28:00 GMT"), body: "<h1>Service Unavailable</h1>"})
	before := scrapeCounters(t)["rewritten/format"]
	// The default handler has request_id on and the constant field
	// service; the l10n one (x-handler: l10n) a catalog in English and
	// Chinese, no request_id and no fields.
	health := map[string]string{"service": "health"}
	zh := []string{"x-language", "zh-CN"}
	for _, tt := range []struct {
		name   string
		md     []string // request metadata besides x-route
		code   codes.Code
		msg    string
		ecode  string
		meta   map[string]string // ErrorInfo's constant metadata; request_id is added when on
		locale string            // LocalizedMessage's, "" for none
		retry  time.Duration     // RetryInfo's, 0 for none
	}{
		{"down", nil, codes.Unavailable, "Bad Gateway", "GATEWAY.0502", health, "", 0},
		{"slow", nil, codes.Unavailable, "Gateway Timeout", "GATEWAY.0504", health, "", 0},
		{"html", nil, codes.Unavailable, "Bad Gateway", "GATEWAY.0502", health, "", 0},
		// A conforming JSON envelope, which a gRPC client cannot read:
		// its own code and message, percent-encoded on the wire.
		{"envelope", nil, codes.PermissionDenied, "Token expired: 100% sure.", "IAM.0002", health, "", 0},
		{"percent", nil, codes.Unknown, "50%41 done, 还差一半。", "JOB.0409", health, "", 0},
		// gRPC's HTTP-to-gRPC table: 404 is UNIMPLEMENTED.
		{"notfound", nil, codes.Unimplemented, "Not Found", "GATEWAY.0404", health, "", 0},
		// Scrubbed: the password and host replaced, the trace withheld.
		{"leaky", nil, codes.PermissionDenied, "invalid credentials for postgres://app:[REDACTED]@[REDACTED]/app", "DB.0403", health, "", 0},
		{"trace", nil, codes.Internal, "Bad Request", "GATEWAY.0400", health, "", 0},
		// Retry-After in seconds becomes a RetryInfo; as a date it does not.
		{"busy", nil, codes.Unavailable, "Too Many Requests", "GATEWAY.0429", health, "", 7 * time.Second},
		{"unavailable", nil, codes.Unavailable, "Service Unavailable", "GATEWAY.0503", health, "", 120 * time.Second},
		{"unavailable-date", nil, codes.Unavailable, "Service Unavailable", "GATEWAY.0503", health, "", 0},
		// The catalog's message, in the language the client asks for (the
		// third with the details the second's encoding left).
		// The catalog's language: en, as Content-Language would say.
		{"l10n down", nil, codes.Unavailable, "Backend unavailable.", "APIG.0201", nil, "en", 0},
		{"l10n down", zh, codes.Unavailable, "后端不可用。", "APIG.0201", nil, "zh-CN", 0},
		{"l10n down", []string{"accept-language", "zh-CN,zh;q=0.9,en;q=0.8"}, codes.Unavailable, "后端不可用。", "APIG.0201", nil, "zh-CN", 0},
		{"l10n busy", zh, codes.Unavailable, "已达到流控阈值。", "APIG.0308", nil, "zh-CN", 7 * time.Second},
		{"l10n unavailable", nil, codes.Unavailable, "No backend available.", "APIG.0610", nil, "en", 120 * time.Second},
		{"l10n envelope", zh, codes.PermissionDenied, "Token expired: 100% sure.", "IAM.0002", nil, "", 0},
	} {
		t.Run("gateway error "+tt.name+" "+strings.Join(tt.md, " "), func(t *testing.T) {
			md := append([]string{"x-route", tt.name}, tt.md...)
			requestID := true
			if route, ok := strings.CutPrefix(tt.name, "l10n "); ok {
				md = append([]string{"x-route", route, "x-handler", "l10n"}, tt.md...)
				requestID = false
			}
			var trailer metadata.MD
			_, err := client.Check(metadata.AppendToOutgoingContext(ctx, md...), &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))
			st := status.Convert(err)
			if st.Code() != tt.code || st.Message() != tt.msg {
				t.Fatalf("status %v %q, want %v %q (error %v)", st.Code(), st.Message(), tt.code, tt.msg, err)
			}
			if got := trailer.Get("error-code"); len(got) != 1 || got[0] != tt.ecode {
				t.Errorf("error-code = %q, want %q", got, tt.ecode)
			}
			rid := trailer.Get("x-request-id")
			if requestID && (len(rid) != 1 || len(rid[0]) != 36) || !requestID && len(rid) != 0 {
				t.Errorf("x-request-id = %q, want a UUID: %v", rid, requestID)
			}
			// The rich error (§15.1): what status.FromError(err).Details()
			// gives a grpc-go client, each detail in its order.
			wantMeta := maps.Clone(tt.meta)
			if requestID && len(rid) == 1 {
				wantMeta["request_id"] = rid[0]
			}
			want := []proto.Message{&errdetails.ErrorInfo{Reason: tt.ecode, Domain: "127.0.0.1", Metadata: wantMeta}}
			if tt.locale != "" {
				want = append(want, &errdetails.LocalizedMessage{Locale: tt.locale, Message: tt.msg})
			}
			if tt.retry != 0 {
				want = append(want, &errdetails.RetryInfo{RetryDelay: durationpb.New(tt.retry)})
			}
			got := st.Details()
			t.Logf("%v %q details %v", st.Code(), st.Message(), got)
			if len(got) != len(want) {
				t.Fatalf("details %v, want %v", got, want)
			}
			for i := range want {
				if m, ok := got[i].(proto.Message); !ok || !proto.Equal(m, want[i]) {
					t.Errorf("detail %d = %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
	t.Run("the details say what grpc-status and grpc-message say", func(t *testing.T) {
		// Encoded for each request, and (the l10n handler's, without a
		// request ID) once, then remembered: twice each.
		for _, header := range [][]string{
			{"X-Route", "percent"}, {"X-Route", "busy"}, {"X-Route", "leaky"},
			{"X-Route", "busy", "X-Handler", "l10n", "X-Language", "zh-CN"}, {"X-Route", "busy", "X-Handler", "l10n", "X-Language", "zh-CN"},
			{"X-Route", "down", "X-Handler", "l10n"}, {"X-Route", "down", "X-Handler", "l10n"},
		} {
			hdr := rawGRPCCall(t, header...)
			st := decodeDetails(t, hdr.Get("Grpc-Status-Details-Bin"))
			msg, err := url.PathUnescape(hdr.Get("Grpc-Message"))
			if err != nil || strconv.Itoa(int(st.GetCode())) != hdr.Get("Grpc-Status") || st.GetMessage() != msg {
				t.Errorf("%s: grpc-status %s, grpc-message %q; details %v (%v)", header, hdr.Get("Grpc-Status"), msg, st, err)
			}
		}
	})
	t.Run("the docs' client", func(t *testing.T) {
		src, err := os.ReadFile("grpc_calls_test.go")
		if err != nil {
			t.Fatal(err)
		}
		_, fn, _ := strings.Cut(string(src), "\nfunc describe(")
		fn, _, _ = strings.Cut(fn, "\n}\n")
		if want := "func describe(" + fn + "\n}\n"; docBlock(t, "docs/protocols.md", "## gRPC", "go") != want {
			t.Errorf("docs/protocols.md's Go client is not describe as tested:\n%s", want)
		}
		_, err = client.Check(metadata.AppendToOutgoingContext(ctx, "x-route", "busy", "x-handler", "l10n", "x-language", "zh-CN"), &healthpb.HealthCheckRequest{})
		var out strings.Builder
		describe(&out, err)
		if want := docBlock(t, "docs/protocols.md", "## gRPC", "text"); out.String() != want {
			t.Errorf("describe printed\n%s\ndocs/protocols.md shows\n%s", out.String(), want)
		}
	})
	t.Run("an upstream's own details pass untouched", func(t *testing.T) {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "rich"})
		st := status.Convert(err)
		got := st.Details()
		if st.Code() != codes.FailedPrecondition || st.Message() != "out of stock" || len(got) != len(upstreamDetails) {
			t.Fatalf("status %v %q, details %v; want the upstream's", st.Code(), st.Message(), got)
		}
		for i, d := range upstreamDetails {
			if m, ok := got[i].(proto.Message); !ok || !proto.Equal(m, protoadapt.MessageV2Of(d)) {
				t.Errorf("detail %d = %v, want %v", i, got[i], d)
			}
		}
	})
	if got := scrapeCounters(t)["rewritten/format"] - before; got != 4 {
		t.Errorf("rewritten/format grew by %v, want 4 (the envelopes a gRPC client cannot read: envelope, percent twice, l10n envelope)", got)
	}
}

// rawGRPCCall sends a Check call with the given header fields to the
// gateway as bytes over HTTP/2, and returns the response's header section
// (a trailers-only answer's status is there).
func rawGRPCCall(t *testing.T, header ...string) http.Header {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true} // Caddy's internal CA, on loopback
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodPost, "https://127.0.0.1:9443/grpc.health.v1.Health/Check", strings.NewReader("\x00\x00\x00\x00\x00"))
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.ProtoMajor != 2 || res.Header.Get("Grpc-Status") == "" {
		t.Fatalf("%s: HTTP/%d %d %v: not a trailers-only gRPC answer", header, res.ProtoMajor, res.StatusCode, res.Header)
	}
	return res.Header
}

// describe is docs/protocols.md's example of what a grpc-go client reads from the
// gateway's error.
func describe(w io.Writer, err error) {
	st := status.Convert(err)
	fmt.Fprintln(w, st.Code(), st.Message())
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			fmt.Fprintln(w, "error_code", d.GetReason(), "from", d.GetDomain(), d.GetMetadata())
		case *errdetails.LocalizedMessage:
			fmt.Fprintln(w, "in", d.GetLocale()+":", d.GetMessage())
		case *errdetails.RetryInfo:
			fmt.Fprintln(w, "retry after", d.GetRetryDelay().AsDuration())
		}
	}
}
