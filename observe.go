package errenvelope

// Logs and metrics: what an operator sees of each examined response.

import (
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The outcome label of the metrics.
const (
	outcomePassed    = "passed"    // sent as the upstream wrote it
	outcomeRewritten = "rewritten" // replaced by the envelope
	outcomeGateway   = "gateway"   // an error the gateway raised, answered with the envelope
	outcomeReported  = "reported"  // mode report: sent as is, counted with what rewrite would do
)

var allReasons = []string{
	reasonConforming, reasonHead, reasonStream, reasonNotJSON, reasonEmpty, reasonInvalidJSON,
	reasonNotObject, reasonMissingFields, reasonDuplicate, reasonCodePattern, reasonTooLarge,
	reasonBadEncoding, reasonGatewayError, reasonUnknownCode,
}

var allOutcomes = []string{outcomePassed, outcomeRewritten, outcomeGateway, outcomeReported}

// Positions of outcomes and reasons in a counterSet.
var (
	outcomeIndex = indexOf(allOutcomes)
	reasonIndex  = indexOf(allReasons)
)

func indexOf(names []string) map[string]int {
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}

// newResponsesCounter is the counter of examined responses. Every handler
// of a config shares the one registered in that config's registry.
func newResponsesCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy",
		Subsystem: "http_error_envelope",
		Name:      "responses_total",
		Help:      "Error responses examined by error_envelope, by outcome (passed, rewritten, gateway, reported) and reason.",
	}, []string{"outcome", "reason"})
}

// counterSet resolves each outcome and reason pair to its series the first
// time it counts, so /metrics shows only series that can count and have,
// and counting afterwards is two map reads, an atomic load and an atomic
// add, without allocation.
type counterSet struct {
	vec    *prometheus.CounterVec
	series []atomic.Pointer[prometheus.Counter] // [outcome*len(allReasons)+reason]
}

func newCounterSet(vec *prometheus.CounterVec) *counterSet {
	return &counterSet{vec: vec, series: make([]atomic.Pointer[prometheus.Counter], len(allOutcomes)*len(allReasons))}
}

func (s *counterSet) inc(outcome, reason string) {
	o, ok1 := outcomeIndex[outcome]
	r, ok2 := reasonIndex[reason]
	if !ok1 || !ok2 {
		return
	}
	slot := &s.series[o*len(allReasons)+r]
	c := slot.Load()
	if c == nil {
		counter := s.vec.WithLabelValues(outcome, reason)
		c = &counter
		slot.Store(c) // a race stores the same series twice: harmless
	}
	(*c).Inc()
}

// registerMetrics registers the counter, or finds the one already
// registered by another handler of the same config.
func (h *Handler) registerMetrics(registry *prometheus.Registry) error {
	vec := newResponsesCounter()
	if registry != nil {
		if err := registry.Register(vec); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
			existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
			if !ok {
				return err
			}
			vec = existing
		}
	}
	h.counters = newCounterSet(vec)
	return nil
}

func (h *Handler) count(outcome, reason string) {
	if h.counters != nil {
		h.counters.inc(outcome, reason)
	}
}

// passed records an examined response sent as the upstream wrote it.
func (h *Handler) passed(r *http.Request, status int, hdr http.Header, reason string) {
	h.count(outcomePassed, reason)
	if c := h.logger.Check(zapcore.DebugLevel, "error response passed"); c != nil {
		c.Write(zap.Int("status", status), zap.String("reason", reason),
			zap.String("upstream_content_type", headerValue(hdr, "Content-Type")), zap.String("uri", r.RequestURI))
	}
}

// rewritten records a rewrite: what the upstream sent and the code chosen.
func (h *Handler) rewritten(r *http.Request, status int, hdr http.Header, v verdict, envelope []byte) {
	h.count(outcomeRewritten, v.reason)
	if c := h.logger.Check(zapcore.DebugLevel, "rewrote error response"); c != nil {
		c.Write(zap.Int("status", status), zap.String("reason", v.reason),
			zap.ByteString("error_code", codeOf(envelope)),
			zap.String("upstream_content_type", headerValue(hdr, "Content-Type")),
			zap.Int("upstream_size", v.size), zap.String("uri", r.RequestURI))
	}
}

// reported records, in report mode, what rewrite mode would have done.
func (h *Handler) reported(r *http.Request, status int, hdr http.Header, v verdict) {
	h.count(outcomeReported, v.reason)
	level, msg := zapcore.InfoLevel, "would rewrite error response"
	if v.passes() {
		level, msg = zapcore.DebugLevel, "error response conforms"
	}
	if c := h.logger.Check(level, msg); c != nil {
		c.Write(zap.Int("status", status), zap.String("reason", v.reason),
			zap.String("upstream_content_type", headerValue(hdr, "Content-Type")),
			zap.Int("upstream_size", v.size), zap.String("uri", r.RequestURI))
	}
}

// gatewayError records an error returned by the wrapped handler, with the
// details that never reach the client. Only an error this handler answers
// is logged at error level: one it returns (report mode, gateway_errors
// off) is logged by Caddy itself, so here it gets an info or debug line.
func (h *Handler) gatewayError(r *http.Request, status int, err error, outcome string) {
	h.count(outcome, reasonGatewayError)
	level := zapcore.ErrorLevel
	switch outcome {
	case outcomeReported:
		level = zapcore.InfoLevel
	case outcomePassed:
		level = zapcore.DebugLevel
	}
	if c := h.logger.Check(level, "gateway error"); c != nil {
		c.Write(zap.Int("status", status), zap.String("outcome", outcome),
			zap.String("method", r.Method), zap.String("uri", r.RequestURI), zap.Error(err))
	}
}
