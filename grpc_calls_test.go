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
	"maps"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
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
		{"percent", codes.Unknown, "50%41 done, 还差一半。", "JOB.0409"},
		// gRPC's HTTP-to-gRPC table: 404 is UNIMPLEMENTED.
		{"notfound", codes.Unimplemented, "Not Found", "GATEWAY.0404"},
		// Scrubbed: the password and host replaced, the trace withheld.
		{"leaky", codes.PermissionDenied, "invalid credentials for postgres://app:[REDACTED]@[REDACTED]/app", "DB.0403"},
		{"trace", codes.Internal, "Bad Request", "GATEWAY.0400"},
		// Retry-After in seconds becomes a RetryInfo.
		{"busy", codes.Unavailable, "Too Many Requests", "GATEWAY.0429"},
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
			// The rich error (§15.1): what status.FromError(err).Details()
			// gives a grpc-go client.
			rid := trailer.Get("x-request-id")
			var info *errdetails.ErrorInfo
			var retry *errdetails.RetryInfo
			for _, d := range st.Details() {
				switch d := d.(type) {
				case *errdetails.ErrorInfo:
					info = d
				case *errdetails.RetryInfo:
					retry = d
				default:
					t.Errorf("unexpected detail %T %v", d, d)
				}
			}
			wantMeta := map[string]string{"service": "health"}
			if len(rid) == 1 {
				wantMeta["request_id"] = rid[0]
			}
			if info == nil || info.GetReason() != tt.ecode || info.GetDomain() != "127.0.0.1" || !maps.Equal(info.GetMetadata(), wantMeta) {
				t.Errorf("ErrorInfo = %v, want reason %s, domain 127.0.0.1, metadata %v", info, tt.ecode, wantMeta)
			}
			if tt.route == "busy" {
				if retry.GetRetryDelay().AsDuration() != 7*time.Second {
					t.Errorf("RetryInfo = %v, want 7s", retry)
				}
			} else if retry != nil {
				t.Errorf("RetryInfo = %v without a Retry-After", retry)
			}
		})
	}
	if got := scrapeCounters(t)["rewritten/format"] - before; got != 2 {
		t.Errorf("rewritten/format grew by %v, want 2 (the envelopes a gRPC client cannot read)", got)
	}
}
