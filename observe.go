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

// The placeholders set on every examined response.
const (
	phOutcome      = "http.error_envelope.outcome"
	phReason       = "http.error_envelope.reason"
	phErrorCode    = "http.error_envelope.error_code"
	phUpstreamBody = "http.error_envelope.upstream_body"
	phScrubbed     = "http.error_envelope.scrubbed"
)

// record counts a decided response, sets its placeholders and logs it.
// It runs before the response's header is written, and decides nothing.
func (h *Handler) record(r *http.Request, hdr http.Header, repl *caddy.Replacer, d *decision) {
	if h.counters != nil {
		h.counters.inc(d.outcome, d.reason, d.upstream)
		if d.scrubbed != 0 {
			h.counters.scrubbed(d.scrubbed, d.upstream)
		}
	}
	if repl != nil {
		repl.Set(phOutcome, boxed(d.outcome))
		repl.Set(phReason, boxed(d.reason))
		code := d.codeBox // boxed once at load, when it can be
		if code == nil {
			code = d.code
		}
		repl.Set(phErrorCode, code)
		repl.Set(phUpstreamBody, d.kept)
		repl.Set(phScrubbed, scrubList[d.scrubbed])
	}
	h.trace(r, d)

	level, msg := zapcore.DebugLevel, "error response passed"
	switch {
	case d.reason == reasonGatewayError:
		// Only an error this handler answers is logged at error level:
		// one it returns (report mode, gateway_errors off) is logged by
		// Caddy itself, so here it gets an info or debug line.
		msg, level = "gateway error", zapcore.ErrorLevel
		switch d.outcome {
		case outcomeReported:
			level = zapcore.InfoLevel
		case outcomePassed:
			level = zapcore.DebugLevel
		}
	case d.outcome == outcomeRewritten:
		msg = "rewrote error response"
	case d.outcome == outcomeReported && (d.reason == reasonConforming || d.reason == reasonHead || d.reason == reasonStream):
		msg = "error response conforms"
	case d.outcome == outcomeReported:
		level, msg = zapcore.InfoLevel, "would rewrite error response"
	}
	c := h.logger.Check(level, msg)
	if c == nil {
		return
	}
	fields := []zap.Field{
		zap.Int("status", d.status), zap.String("outcome", d.outcome), zap.String("reason", d.reason),
		zap.String("error_code", d.code), zap.String("route", h.Name), zap.String("upstream", d.upstream),
		zap.String("method", r.Method), zap.String("uri", r.RequestURI),
	}
	if d.err != nil {
		fields = append(fields, zap.Error(d.err))
	} else {
		fields = append(fields, zap.String("upstream_content_type", headerValue(hdr, "Content-Type")), zap.Int("upstream_size", d.size))
		if h.policy.keepBody > 0 {
			fields = append(fields, zap.String("upstream_body", d.kept))
		}
		if h.policy.scrub.on != 0 {
			fields = append(fields, zap.Strings("scrubbed", scrubNames[d.scrubbed]))
		}
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
