package errenvelope

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestTraceSpan: each examined response sets the decision on the request's
// span, recorded by the OpenTelemetry SDK's in-memory span recorder
// (SPEC §15.2); a success and a request without a span get nothing.
func TestTraceSpan(t *testing.T) {
	rewrite := newTestHandler(t, &Handler{Name: "orders"})
	report := newTestHandler(t, &Handler{Mode: "report"})
	off := false
	left := newTestHandler(t, &Handler{GatewayErrors: &off})
	dialErr := errors.New("dial tcp 127.0.0.1:9: connect: connection refused")
	gateway := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		return caddyhttp.Error(http.StatusBadGateway, dialErr)
	})
	// The error's Go text, as Caddy logs it: "{id=…} <where>: HTTP 502: dial tcp …".
	gatewayText := "HTTP 502: " + dialErr.Error()
	html := upstreamLike(404, map[string]string{"Content-Type": "text/html"}, []byte("<h1>Not Found</h1>"))
	leaky := upstreamLike(400, map[string]string{"Content-Type": "application/json"},
		[]byte(`{"message":"connect to postgres://app:s3cr3t@db.internal:5432/app failed"}`))
	conforming := upstreamLike(400, map[string]string{"Content-Type": "application/json"}, []byte(exactEnvelope))
	ok := upstreamLike(200, map[string]string{"Content-Type": "application/json"}, []byte(`{"id":7}`))

	for _, tt := range []struct {
		name      string
		h         *Handler
		next      caddyhttp.Handler
		attrs     map[string]string // every attribute the handler sets
		errorText string            // how the recorded error, and the span's status description, end
	}{
		{"rewrite", rewrite, html, map[string]string{
			"error.type": "GATEWAY.0404", "error_envelope.outcome": "rewritten", "error_envelope.reason": "not_json",
			"error_envelope.route": "orders", "error_envelope.upstream": "10.0.0.7:8080",
		}, ""},
		{"pass", rewrite, conforming, map[string]string{
			"error.type": "IAM.0011", "error_envelope.outcome": "passed", "error_envelope.reason": "conforming",
			"error_envelope.route": "orders", "error_envelope.upstream": "10.0.0.7:8080",
		}, ""},
		{"scrubbed", rewrite, leaky, map[string]string{
			"error.type": "GATEWAY.0400", "error_envelope.outcome": "rewritten", "error_envelope.reason": "missing_fields",
			"error_envelope.route": "orders", "error_envelope.upstream": "10.0.0.7:8080", "error_envelope.scrubbed": `["credentials","addresses"]`,
		}, ""},
		{"gateway error", rewrite, gateway, map[string]string{
			"error.type": "GATEWAY.0502", "error_envelope.outcome": "gateway", "error_envelope.reason": "gateway_error",
			"error_envelope.route": "orders",
		}, gatewayText},
		// Report mode: the code a rewrite would send. A gateway error has no
		// upstream that answered.
		{"report", report, html, map[string]string{
			"error.type": "GATEWAY.0404", "error_envelope.outcome": "reported", "error_envelope.reason": "not_json",
			"error_envelope.upstream": "10.0.0.7:8080",
		}, ""},
		{"report gateway error", report, gateway, map[string]string{
			"error.type": "GATEWAY.0502", "error_envelope.outcome": "reported", "error_envelope.reason": "gateway_error",
		}, gatewayText},
		// Left to handle_errors: no code is sent, the error is still the span's.
		{"gateway error left to caddy", left, gateway, map[string]string{
			"error_envelope.outcome": "passed", "error_envelope.reason": "gateway_error",
		}, gatewayText},
		{"success", rewrite, ok, map[string]string{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			ctx, span := tp.Tracer("test").Start(context.Background(), "handler")
			w := httptest.NewRecorder()
			err := tt.h.ServeHTTP(w, requestIn(ctx), tt.next)
			span.End()
			// A gateway error the handler does not answer goes back to Caddy.
			if returned := tt.errorText != "" && tt.h != rewrite; (err != nil) != returned {
				t.Fatalf("ServeHTTP returned %v", err)
			}
			spans := rec.Ended()
			if len(spans) != 1 {
				t.Fatalf("%d spans ended, want 1", len(spans))
			}
			s := spans[0]
			if got := attrMap(s.Attributes()); !maps.Equal(got, tt.attrs) {
				t.Errorf("attributes\n got %v\nwant %v", got, tt.attrs)
			}
			var events []string
			for _, e := range s.Events() {
				events = append(events, e.Name+": "+attrMap(e.Attributes)["exception.message"])
			}
			if tt.errorText == "" {
				if len(events) != 0 || s.Status().Code != codes.Unset {
					t.Errorf("events %q, status %v: want none", events, s.Status())
				}
				return
			}
			if len(events) != 1 || !strings.HasPrefix(events[0], "exception: {id=") || !strings.HasSuffix(events[0], tt.errorText) {
				t.Errorf("events %q, want the recorded gateway error", events)
			}
			if s.Status().Code != codes.Error || !strings.HasSuffix(s.Status().Description, tt.errorText) {
				t.Errorf("status %v, want Error %q", s.Status(), tt.errorText)
			}
		})
	}

	t.Run("no span", func(t *testing.T) {
		w := httptest.NewRecorder()
		if err := rewrite.ServeHTTP(w, requestIn(context.Background()), gateway); err != nil || w.Code != 502 {
			t.Fatalf("without a span: %d, %v", w.Code, err)
		}
	})
}

// requestIn is a request as Caddy hands it to the handler, with ctx (and
// the span it holds): a replacer that says which upstream answered.
func requestIn(ctx context.Context) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/orders/7", nil).WithContext(ctx)
	repl := caddy.NewReplacer()
	repl.Set("http.reverse_proxy.upstream.hostport", "10.0.0.7:8080")
	return r.WithContext(context.WithValue(ctx, caddy.ReplacerCtxKey, repl))
}

func attrMap(attrs []attribute.KeyValue) map[string]string {
	m := make(map[string]string, len(attrs))
	for _, a := range attrs {
		m[string(a.Key)] = a.Value.Emit()
	}
	return m
}
