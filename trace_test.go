package errenvelope

import (
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
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
		errorText string            // how the recorded error ends; the status says its cause
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
		// Report mode: the code a rewrite would send.
		{"report", report, html, map[string]string{
			"error.type": "GATEWAY.0404", "error_envelope.outcome": "reported", "error_envelope.reason": "not_json",
			"error_envelope.upstream": "10.0.0.7:8080",
		}, ""},
		// A gateway error has no upstream that answered.
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
			if s.Status().Code != codes.Error || s.Status().Description != dialErr.Error() {
				t.Errorf("status %v, want Error %q", s.Status(), dialErr)
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
		m[string(a.Key)] = a.Value.String()
	}
	return m
}

// collector is an OpenTelemetry collector's OTLP/HTTP trace receiver:
// the spans a real Caddy exports, by name.
type collector struct {
	mu    sync.Mutex
	spans map[string]*tracepb.Span
}

func startCollector(t *testing.T) (*collector, string) {
	t.Helper()
	c := &collector{spans: map[string]*tracepb.Span{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &req)
		}
		if r.URL.Path != "/v1/traces" || err != nil {
			t.Errorf("collector got %s %s: %v", r.Method, r.URL.Path, err)
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					c.spans[s.GetName()] = s
				}
			}
		}
		c.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

// span waits up to 10 s for the span of that name to be exported.
func (c *collector) span(t *testing.T, name string) *tracepb.Span {
	t.Helper()
	for range 200 {
		c.mu.Lock()
		s := c.spans[name]
		c.mu.Unlock()
		if s != nil {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no span %q exported", name)
	return nil
}

// handlerAttrs are an exported span's attributes that the handler sets.
func handlerAttrs(s *tracepb.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range s.GetAttributes() {
		k := kv.GetKey()
		if k != "error.type" && !strings.HasPrefix(k, "error_envelope.") {
			continue
		}
		if arr := kv.GetValue().GetArrayValue(); arr != nil {
			var vals []string
			for _, v := range arr.GetValues() {
				vals = append(vals, strconv.Quote(v.GetStringValue()))
			}
			m[k] = "[" + strings.Join(vals, ",") + "]"
			continue
		}
		m[k] = kv.GetValue().GetStringValue()
	}
	return m
}

// TestREADMETracing runs docs/observability.md's tracing recipe as written, in a real
// Caddy whose tracing exports over OTLP to a collector the test runs, and
// checks the exported spans of a rewrite, a pass, a scrubbed message, a
// report, a success and a gateway error (SPEC §15.2).
func TestREADMETracing(t *testing.T) {
	otlp, endpoint := startCollector(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(docBlock(t, "docs/observability.md", "## Tracing", "caddyfile")), 0o600); err != nil {
		t.Fatal(err)
	}
	env := docBlock(t, "docs/observability.md", "## Tracing", "sh")
	want := "OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \\\nOTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 caddy run --config Caddyfile\n"
	if env != want {
		t.Fatalf("docs/observability.md's command is\n%s\nthe test runs\n%s", env, want)
	}
	orders := backendOn(t, "127.0.0.1:8081", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/orders/7":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":7}`)
		case "/orders/bad":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, exactEnvelope)
		case "/orders/leaky":
			http.Error(w, "connect to postgres://app:s3cr3t@db.internal:5432/app failed", http.StatusBadRequest)
		default:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, "<h1>Not Found</h1>")
		}
	})
	legacy := backendOn(t, "127.0.0.1:8082", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	startCaddyEnv(t, dir, []string{
		"OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + endpoint,
		"OTEL_BSP_SCHEDULE_DELAY=100", // export every 100 ms, not every 5 s
	}, "run", "--config", "Caddyfile")

	get := func(path string, status int) {
		t.Helper()
		if res, body := getUntilUp(t, "http://127.0.0.1:8080"+path); res.StatusCode != status {
			t.Fatalf("GET %s: %d %s, want %d", path, res.StatusCode, body, status)
		}
	}
	get("/orders/7", 200)
	get("/orders/missing", 404)
	get("/orders/bad", 400)
	get("/orders/leaky", 400)
	get("/legacy/x", 500)
	orders.Close() // the backends go down: gateway errors
	get("/orders/8", 502)
	legacy.Close()
	get("/legacy/y", 502) // reported, and answered by Caddy

	const upstream = "127.0.0.1:8081"
	for _, tt := range []struct {
		span    string
		attrs   map[string]string
		errored bool // the gateway error recorded, the status error
	}{
		{"GET /orders/7", map[string]string{}, false},
		{"GET /orders/missing", map[string]string{"error.type": "GATEWAY.0404", "error_envelope.outcome": "rewritten",
			"error_envelope.reason": "not_json", "error_envelope.route": "orders", "error_envelope.upstream": upstream}, false},
		{"GET /orders/bad", map[string]string{"error.type": "IAM.0011", "error_envelope.outcome": "passed",
			"error_envelope.reason": "conforming", "error_envelope.route": "orders", "error_envelope.upstream": upstream}, false},
		{"GET /orders/leaky", map[string]string{"error.type": "GATEWAY.0400", "error_envelope.outcome": "rewritten",
			"error_envelope.reason": "not_json", "error_envelope.route": "orders", "error_envelope.upstream": upstream,
			"error_envelope.scrubbed": `["credentials","addresses"]`}, false},
		{"GET /legacy/x", map[string]string{"error.type": "GATEWAY.0500", "error_envelope.outcome": "reported",
			"error_envelope.reason": "not_json", "error_envelope.route": "legacy", "error_envelope.upstream": "127.0.0.1:8082"}, true},
		{"GET /orders/8", map[string]string{"error.type": "GATEWAY.0502", "error_envelope.outcome": "gateway",
			"error_envelope.reason": "gateway_error", "error_envelope.route": "orders"}, true},
		// Caddy's tracing ends this span before Caddy answers the error: the
		// handler's record is all it has.
		{"GET /legacy/y", map[string]string{"error.type": "GATEWAY.0502", "error_envelope.outcome": "reported",
			"error_envelope.reason": "gateway_error", "error_envelope.route": "legacy"}, true},
	} {
		s := otlp.span(t, tt.span)
		got := handlerAttrs(s)
		t.Logf("%s: %v, events %v, status %v", tt.span, got, s.GetEvents(), s.GetStatus())
		if !maps.Equal(got, tt.attrs) {
			t.Errorf("%s: attributes\n got %v\nwant %v", tt.span, got, tt.attrs)
		}
		var exceptions []string
		for _, e := range s.GetEvents() {
			for _, kv := range e.GetAttributes() {
				if e.GetName() == "exception" && kv.GetKey() == "exception.message" {
					exceptions = append(exceptions, kv.GetValue().GetStringValue())
				}
			}
		}
		switch tt.span {
		case "GET /orders/8":
			if len(exceptions) != 1 || !strings.Contains(exceptions[0], "HTTP 502: dial tcp 127.0.0.1:8081: connect: connection refused") {
				t.Errorf("%s: exceptions %q, want the dial error", tt.span, exceptions)
			}
		case "GET /legacy/y":
			dial := "HTTP 502: dial tcp 127.0.0.1:8082: connect: connection refused"
			if len(exceptions) != 1 || !strings.Contains(exceptions[0], dial) || s.GetStatus().GetMessage() != strings.TrimPrefix(dial, "HTTP 502: ") {
				t.Errorf("%s: exceptions %q, status %v, want the dial error in both", tt.span, exceptions, s.GetStatus())
			}
		default:
			if len(exceptions) != 0 {
				t.Errorf("%s: exceptions %q, want none", tt.span, exceptions)
			}
		}
		if isErr := s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR; isErr != tt.errored {
			t.Errorf("%s: status %v, want error %v", tt.span, s.GetStatus(), tt.errored)
		}
	}
}

// backendOn serves handler on addr until the test ends (or it is closed).
func backendOn(t *testing.T, addr string, handler http.HandlerFunc) *http.Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("backend port: %v", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}
