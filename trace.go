package errenvelope

// Tracing (SPEC §15.2): when Caddy's tracing handler traces the request,
// the decision is set on the request's span. Only the OpenTelemetry API is
// used; the span, its exporter and its SDK are Caddy's.

import (
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// The span attributes of an examined response. error.type is
// OpenTelemetry's semantic convention for the class of an error: here the
// error_code sent (in report mode, the one a rewrite would send).
const (
	attrErrorType = attribute.Key("error.type")
	attrOutcome   = attribute.Key("error_envelope.outcome")
	attrReason    = attribute.Key("error_envelope.reason")
	attrRoute     = attribute.Key("error_envelope.route")
	attrUpstream  = attribute.Key("error_envelope.upstream")
	attrScrubbed  = attribute.Key("error_envelope.scrubbed")
)

// trace sets a decided response on the request's span, when a recording
// one is there: its attributes, and for a gateway error the error itself
// and the span's error status, described by the error's cause, since the
// handler answers (or returns) it where Caddy's tracing never sees it.
// Only record calls it, so a success never looks up a span.
func (h *Handler) trace(r *http.Request, d *decision) {
	span := trace.SpanFromContext(r.Context())
	if !span.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 6)
	if d.code != "" {
		attrs = append(attrs, attrErrorType.String(d.code))
	}
	attrs = append(attrs, attrOutcome.String(d.outcome), attrReason.String(d.reason))
	if h.Name != "" {
		attrs = append(attrs, attrRoute.String(h.Name))
	}
	if d.upstream != "" {
		attrs = append(attrs, attrUpstream.String(d.upstream))
	}
	if d.scrubbed != 0 {
		attrs = append(attrs, attrScrubbed.StringSlice(scrubNames[d.scrubbed]))
	}
	span.SetAttributes(attrs...)
	if d.err != nil {
		span.RecordError(d.err)
		span.SetStatus(codes.Error, causeText(d.err))
	}
}

// causeText is what went wrong, for the span's status: a handler error's
// cause ("dial tcp …: connection refused") without the id and place that
// the recorded error (and Caddy's log line) has.
func causeText(err error) string {
	var he caddyhttp.HandlerError
	if errors.As(err, &he) && he.Err != nil {
		return he.Err.Error()
	}
	return err.Error()
}
