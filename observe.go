package errenvelope

// What an operator sees of each examined response: the counter, the log
// line, and the {http.error_envelope.*} placeholders for the access log
// and the handlers around this one.

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
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

// The placeholders set on every examined response.
const (
	phOutcome      = "http.error_envelope.outcome"
	phReason       = "http.error_envelope.reason"
	phErrorCode    = "http.error_envelope.error_code"
	phUpstreamBody = "http.error_envelope.upstream_body"
)

// record is what is known of one examined response when it is decided.
type record struct {
	status   int
	outcome  string
	reason   string
	code     string // the error_code sent, or in report mode the one a rewrite would send
	upstream string // host:port of the upstream that answered, "" when none did
	body     string // at most keep_body bytes of the decoded upstream body, as valid UTF-8
	size     int    // decoded upstream body size
	err      error  // a gateway error
}

// observe counts a decided response, sets its placeholders and logs it.
// It runs before the response's header is written.
//
// With problem_details on, what a client gets depends on its Accept, so
// every examined response gains Vary: Accept here, where they all pass.
func (h *Handler) observe(r *http.Request, hdr http.Header, rec record) {
	if h.problemDetails {
		addVary(hdr, varyAccept)
	}
	if h.counters != nil {
		h.counters.inc(rec.outcome, rec.reason, rec.upstream)
	}
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set(phOutcome, boxed(rec.outcome))
		repl.Set(phReason, boxed(rec.reason))
		repl.Set(phErrorCode, rec.code)
		repl.Set(phUpstreamBody, rec.body)
	}

	level, msg := zapcore.DebugLevel, "error response passed"
	switch {
	case rec.reason == reasonGatewayError:
		// Only an error this handler answers is logged at error level:
		// one it returns (report mode, gateway_errors off) is logged by
		// Caddy itself, so here it gets an info or debug line.
		msg, level = "gateway error", zapcore.ErrorLevel
		switch rec.outcome {
		case outcomeReported:
			level = zapcore.InfoLevel
		case outcomePassed:
			level = zapcore.DebugLevel
		}
	case rec.outcome == outcomeRewritten:
		msg = "rewrote error response"
	case rec.outcome == outcomeReported && (rec.reason == reasonConforming || rec.reason == reasonHead || rec.reason == reasonStream):
		msg = "error response conforms"
	case rec.outcome == outcomeReported:
		level, msg = zapcore.InfoLevel, "would rewrite error response"
	}
	c := h.logger.Check(level, msg)
	if c == nil {
		return
	}
	fields := []zap.Field{
		zap.Int("status", rec.status), zap.String("outcome", rec.outcome), zap.String("reason", rec.reason),
		zap.String("error_code", rec.code), zap.String("route", h.Name), zap.String("upstream", rec.upstream),
		zap.String("method", r.Method), zap.String("uri", r.RequestURI),
	}
	if rec.err != nil {
		fields = append(fields, zap.Error(rec.err))
	} else {
		fields = append(fields, zap.String("upstream_content_type", headerValue(hdr, "Content-Type")), zap.Int("upstream_size", rec.size))
	}
	if h.keepBody > 0 && rec.err == nil {
		fields = append(fields, zap.String("upstream_body", rec.body))
	}
	c.Write(fields...)
}

// boxedNames holds every outcome and reason as an interface value, made
// once, so setting them as placeholders allocates nothing.
var boxedNames = func() map[string]any {
	m := map[string]any{}
	for _, n := range append(append([]string{}, allOutcomes...), allReasons...) {
		m[n] = n
	}
	return m
}()

func boxed(name string) any {
	if v, ok := boxedNames[name]; ok {
		return v
	}
	return name
}

// answeredBy is the host:port of the upstream that answered, as
// reverse_proxy recorded it, or "".
func answeredBy(r *http.Request) string {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return ""
	}
	v, _ := repl.GetString("http.reverse_proxy.upstream.hostport")
	return v
}
