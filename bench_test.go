package errenvelope

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// benchWriter is the cheapest real ResponseWriter: it keeps headers and
// discards the body, so a benchmark measures the handler, not the sink.
type benchWriter struct {
	header http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header         { return w.header }
func (w *benchWriter) WriteHeader(status int)      { w.status = status }
func (w *benchWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *benchWriter) reset() {
	clear(w.header)
	w.status, w.n = 0, 0
}

// upstreamLike answers as a backend would: headers, status, body in one
// write (as reverse_proxy copies a small body).
func upstreamLike(status int, header map[string]string, body []byte) caddyhttp.HandlerFunc {
	cl := strconv.Itoa(len(body))
	return func(w http.ResponseWriter, r *http.Request) error {
		hdr := w.Header()
		for k, v := range header {
			hdr[k] = []string{v}
		}
		hdr["Content-Length"] = []string{cl}
		w.WriteHeader(status)
		_, err := w.Write(body)
		return err
	}
}

// variant is one more way to run a benchmark's upstream behaviour: behind
// another handler, with extra request headers.
type variant struct {
	name   string
	h      *Handler // nil: the upstream alone
	header map[string]string
	traced bool // in a recording span of its own, as Caddy's tracing starts one per request
}

// benchPair runs next directly (handler=baseline) and behind the handler
// (handler=error_envelope), side by side in one run, then behind each
// variant; `benchstat -col /handler` puts them side by side.
func benchPair(b *testing.B, h *Handler, next caddyhttp.Handler, variants ...variant) {
	variants = append([]variant{{name: "handler=baseline"}, {name: "handler=error_envelope", h: h}}, variants...)
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			benchServe(b, v, next)
		})
	}
}

// traced are the variants of a benchmark inside a recording span: the
// upstream alone, and behind h.
func traced(h *Handler) []variant {
	return []variant{{name: "handler=baseline_traced", traced: true}, {name: "handler=error_envelope_traced", h: h, traced: true}}
}

// benchTracer starts recording spans, as Caddy's tracing does, that go
// nowhere when they end.
var benchTracer = sdktrace.NewTracerProvider().Tracer("bench")

// benchServe serves one request per iteration, through v.h when it is set.
func benchServe(b *testing.B, v variant, next caddyhttp.Handler) {
	h, header := v.h, v.header
	req := httptest.NewRequest(http.MethodGet, "/api/orders/7", nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	// As Caddy's server sets it, for {http.request.uuid}.
	req = req.WithContext(context.WithValue(req.Context(), caddyhttp.ExtraLogFieldsCtxKey, new(caddyhttp.ExtraLogFields)))
	repl := caddyhttp.NewTestReplacer(req)
	req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, repl))
	w := &benchWriter{header: make(http.Header, 8)}
	if h != nil {
		h.logger = zap.NewNop() // as in production at Caddy's default INFO level, minus the gateway error lines' I/O
	}
	b.ReportAllocs()
	base := req
	for b.Loop() {
		w.reset()
		var span trace.Span
		if v.traced {
			var ctx context.Context
			ctx, span = benchTracer.Start(base.Context(), "handler")
			req = base.WithContext(ctx)
		}
		var err error
		if h == nil {
			err = next.ServeHTTP(w, req)
			if errors.Is(err, errBenchGateway) {
				err = nil
			}
		} else {
			err = h.ServeHTTP(w, req, next)
		}
		if span != nil {
			span.End()
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if h != nil && w.status == 0 {
		b.Fatal("nothing written")
	}
}

// withCatalog are the variants of the rewrite benchmarks with a 10 000-entry
// catalog in two languages, whose statuses cover every status: without a
// language header, and with a browser's Accept-Language.
func withCatalog(b *testing.B) []variant {
	catalogOnce.Do(func() {
		dir, err := os.MkdirTemp("", "errenvelope-bench")
		if err != nil {
			b.Fatal(err)
		}
		catalogPath = bigCatalog(b, dir, 10000)
	})
	h := newTestHandler(b, &Handler{Catalogs: []string{catalogPath}})
	all := newTestHandler(b, &Handler{
		Name: "orders", Catalogs: []string{catalogPath}, UnknownCodes: "rewrite", ProblemDetails: true,
		KeepBody: 4 << 10, RequestID: defaultRequestID, Fields: []Field{{Name: "service", Value: "orders"}},
	})
	return []variant{
		{name: "handler=with_catalog", h: h},
		{name: "handler=with_catalog_zh", h: h, header: map[string]string{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}},
		// Every part-two option on, and a browser's request headers.
		{name: "handler=all_options", h: all, header: browserHeaders},
	}
}

// browserHeaders are the Accept and Accept-Language a browser sends.
var browserHeaders = map[string]string{
	"Accept":          "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
	"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8",
}

var (
	catalogOnce sync.Once
	catalogPath string
)

var errBenchGateway = errors.New("dial tcp 127.0.0.1:8089: connect: connection refused")

func BenchmarkPassthrough1KiB(b *testing.B) {
	h := newTestHandler(b, &Handler{})
	// Successes pay nothing for scrubbing: the default detectors beside none.
	off := newTestHandler(b, &Handler{Scrub: []string{"off"}})
	// Successes look up no span: inside a recording span they cost what
	// they cost outside one (beside the span's own cost, baseline_traced).
	benchPair(b, h, upstreamLike(200, map[string]string{"Content-Type": "application/json"}, make([]byte, 1<<10)),
		append([]variant{{name: "handler=scrub_off", h: off}}, traced(h)...)...)
}

func BenchmarkPassthrough1MiB(b *testing.B) {
	h := newTestHandler(b, &Handler{})
	body := make([]byte, 1<<20)
	chunk := 32 << 10 // as reverse_proxy copies
	benchPair(b, h, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header()["Content-Type"] = []string{"application/octet-stream"}
		w.WriteHeader(200)
		for i := 0; i < len(body); i += chunk {
			if _, err := w.Write(body[i : i+chunk]); err != nil {
				return err
			}
		}
		return nil
	}))
}

func BenchmarkConformingPassthrough(b *testing.B) {
	h := newTestHandler(b, &Handler{})
	benchPair(b, h, upstreamLike(400, map[string]string{"Content-Type": "application/json"}, []byte(exactEnvelope)))
}

// html2KiB is a 2 KiB HTML error page, like nginx's or a framework's.
var html2KiB = []byte("<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>\n<h1>Not Found</h1>\n" +
	strings.Repeat("<p>The requested URL was not found on this server.</p>\n", 35) + "</body></html>\n")

func BenchmarkRewriteHTML404(b *testing.B) {
	h := newTestHandler(b, &Handler{})
	benchPair(b, h, upstreamLike(404, map[string]string{"Content-Type": "text/html"}, html2KiB[:2048]),
		append(withCatalog(b), traced(h)...)...)
}

func BenchmarkRewriteSpring500(b *testing.B) {
	h := newTestHandler(b, &Handler{})
	body := []byte(`{"timestamp":"2024-05-01T10:00:00.000+00:00","status":500,"error":"Internal Server Error","message":"Connection refused: db:5432","path":"/api/orders/7"}`)
	benchPair(b, h, upstreamLike(500, map[string]string{"Content-Type": "application/json"}, body), withCatalog(b)...)
}

func BenchmarkRewriteGzipJSON400(b *testing.B) {
	h := newTestHandler(b, &Handler{})
	body := compress("gzip", []byte(`{"statusCode":400,"code":"FST_ERR_VALIDATION","error":"Bad Request","message":"body must have required property 'name'"}`))
	benchPair(b, h, upstreamLike(400, map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}, body), withCatalog(b)...)
}

func BenchmarkGatewayError(b *testing.B) {
	h := newTestHandler(b, &Handler{})
	// A gRPC client's gateway error: a trailers-only answer with its
	// google.rpc.Status details.
	grpc := variant{name: "handler=grpc", h: h, header: map[string]string{"Content-Type": "application/grpc"}}
	benchPair(b, h, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return caddyhttp.Error(http.StatusBadGateway, errBenchGateway)
	}), append(append(withCatalog(b), grpc), traced(h)...)...)
}

// BenchmarkCount: counting an outcome and reason that counted before.
func BenchmarkCount(b *testing.B) {
	s := newCounterSet(newResponsesCounter(), newScrubbedCounter(), "")
	s.inc(outcomeRewritten, reasonNotJSON, "")
	b.ReportAllocs()
	for b.Loop() {
		s.inc(outcomeRewritten, reasonNotJSON, "")
	}
}

// scrubProse is error prose full of the words detectors look at (token,
// password, at, select, a time), with no secret in it: 100 characters.
const scrubProse = "Field 'password' must be at least 8 characters; token expired at 10:30, select a plan and retry. "

// proseOf is n characters of scrubProse, repeated; with a secret, one
// Google API key in the middle.
func proseOf(n int, secret bool) string {
	s := strings.Repeat(scrubProse, n/len(scrubProse)+1)[:n]
	if secret {
		const key = " key=AIzaSyA1234567890abcdefghijklmnopqrstuv "
		mid := n/2 - len(key)/2
		s = s[:mid] + key + s[mid+len(key):]
	}
	return s
}

// BenchmarkScrub: the detectors alone over 100, 1 000 and 10 000
// characters of prose, without and with a secret in it: the time grows
// linearly with the text.
func BenchmarkScrub(b *testing.B) {
	s := mustScrubber(b, nil)
	for _, n := range []int{100, 1000, 10000} {
		for _, secret := range []bool{false, true} {
			text := proseOf(n, secret)
			name := "prose"
			if secret {
				name = "secret"
			}
			b.Run("len="+strconv.Itoa(n)+"/text="+name, func(b *testing.B) {
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					s.scrub(text, s.on)
				}
			})
		}
	}
}

// BenchmarkRewriteScrub: a rewrite that sends a 100-character upstream
// message, with scrub off, the default detectors and every detector, side
// by side; and one whose message holds a key to replace.
func BenchmarkRewriteScrub(b *testing.B) {
	for _, secret := range []bool{false, true} {
		body := []byte(`{"message":"` + proseOf(100, secret) + `"}`)
		next := upstreamLike(400, map[string]string{"Content-Type": "application/json"}, body)
		text := "prose"
		if secret {
			text = "secret"
		}
		for _, v := range []struct {
			name  string
			scrub []string
		}{{"off", []string{"off"}}, {"default", nil}, {"all", allDetectors}} {
			h := newTestHandler(b, &Handler{Scrub: v.scrub})
			b.Run("text="+text+"/scrub="+v.name, func(b *testing.B) {
				benchServe(b, variant{h: h}, next)
			})
		}
	}
}
