package errenvelope

// The decision: one value per examined response, made once, from the held
// bytes (or the returned error), the request and the policy. Everything
// after it (the response written, the counter, the placeholders, the log
// line) reads the decision and decides nothing.

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// Why a response was passed or rewritten: the `reason` of logs and metrics.
const (
	reasonConforming    = "conforming"       // already the envelope: passed byte for byte
	reasonHead          = "head_json"        // HEAD with a JSON Content-Type: nothing to judge, passed
	reasonNotJSON       = "not_json"         // media type is not application/json
	reasonEmpty         = "empty"            // no body at all
	reasonInvalidJSON   = "invalid_json"     // not valid JSON (truncated, trailing bytes, too deep, …)
	reasonNotObject     = "not_object"       // valid JSON, but not an object
	reasonMissingFields = "missing_fields"   // error_code / error_msg absent, empty or not strings
	reasonCodePattern   = "code_pattern"     // error_code does not match code_pattern
	reasonTooLarge      = "too_large"        // body (encoded or decoded) over max_body
	reasonBadEncoding   = "bad_encoding"     // unknown or corrupt Content-Encoding
	reasonGatewayError  = "gateway_error"    // the wrapped handler returned an error
	reasonStream        = "stream"           // a streamed error (Incremental: ?1, SSE): passed unheld
	reasonDuplicate     = "duplicate_fields" // error_code or error_msg appears twice: clients would disagree
	reasonUnknownCode   = "unknown_code"     // unknown_codes rewrite: error_code is not in the catalog
	reasonGRPC          = "grpc"             // a gRPC response: never held or changed
	reasonFormat        = "format"           // a conforming envelope, rewritten into the form the client reads (gRPC, problem details)
	reasonScrubbed      = "scrubbed"         // a conforming envelope whose error_msg a scrub detector found something in
)

// The outcome label of the metrics.
const (
	outcomePassed    = "passed"    // sent as the upstream wrote it
	outcomeRewritten = "rewritten" // replaced by the envelope
	outcomeGateway   = "gateway"   // an error the gateway raised, answered with the envelope
	outcomeReported  = "reported"  // mode report: sent as is, counted with what rewrite would do
)

// The forms an error is sent in.
const (
	formatJSON    = iota // the envelope
	formatProblem        // problem details (problem_details on, and the client's Accept prefers them)
	formatGRPC           // a gRPC trailers-only response
)

// decision is what happens to one examined response, and why.
type decision struct {
	status  int
	outcome string
	reason  string
	format  int // the form the client reads errors in
	// What a rewrite sends (in report mode: would send). code is also a
	// passed envelope's own.
	code, msg string
	codeBox   any             // code as an interface value made at load, when it is a configured one
	lang      string          // Content-Language of a localized catalog message, else ""
	requestID string          // request_id when on: also sent as X-Request-Id
	body      []byte          // the envelope, when already encoded (static envelopes)
	length    string          // its Content-Length, when encoded with it
	static    *staticEnvelope // the static envelope the message is from, else nil
	staticIdx int             // the index of its language there
	typ       string          // the problem type, for problem details
	upstream  string          // host:port of the upstream that answered, "" when none did
	size      int             // decoded upstream body size, for the log
	kept      string          // keep_body's text of the upstream body
	scrubbed  detectors       // what scrubbing found in the upstream text the client gets (would get)
	err       error           // a gateway error
}

// rewrites reports a decision that replaces the response.
func (d *decision) rewrites() bool {
	return d.outcome == outcomeRewritten || d.outcome == outcomeGateway
}

// decideHeld decides a held error response: pass it, or what to rewrite
// it into (§3, §4, §11).
func (p *policy) decideHeld(hw *holdWriter, r *http.Request, repl *caddy.Replacer) decision {
	hdr := hw.Header()
	d := decision{status: hw.status, format: p.clientFormat(r), upstream: answeredBy(repl)}
	v := p.examine(hdr, hw.held(), hw.tooLarge, r.Method == http.MethodHead, d.format)
	d.reason, d.size = v.reason, v.size
	if p.keepBody > 0 {
		d.kept = p.keptText(hdr, v.body, hw.held())
	}
	if d.reason == reasonConforming && d.format == formatGRPC {
		d.reason = reasonFormat // a gRPC client cannot read JSON
	}
	var msg string // a conforming envelope's error_msg, scrubbed
	if d.reason == reasonConforming || d.reason == reasonFormat {
		msg, d.scrubbed = p.scrub.scrub(v.msg, p.scrub.on)
		if v.detail != "" && v.detail != v.msg { // problem details say it twice
			_, found := p.scrub.scrub(v.detail, p.scrub.on)
			d.scrubbed |= found
		}
		if d.scrubbed != 0 {
			d.reason = reasonScrubbed
		}
	}
	switch d.reason {
	case reasonConforming, reasonHead:
		d.outcome, d.code = p.outcome(outcomePassed), v.code
	case reasonFormat, reasonScrubbed:
		// A conforming envelope in another form, or with what it must not
		// say scrubbed: its own code, its own message (withheld, the
		// code's message of steps 3–4), untouched by the rules.
		d.outcome, d.code, d.msg = p.outcome(outcomeRewritten), v.code, p.cleanMessage(msg)
		d.requestID = p.requestIDOf(&d, hdr, repl)
		if d.msg == "" {
			p.codeMessage(&d, p.resolution(d.status), r, repl)
		}
		d.typ = p.problemType(d.code, d.status, nil)
	default:
		d.outcome = p.outcome(outcomeRewritten)
		d.requestID = p.requestIDOf(&d, hdr, repl)
		p.choose(&d, v.words, r, repl)
	}
	return d
}

// decideError decides an error the wrapped handler returned before any
// byte reached the client (§5): answered with the envelope, or returned.
func (p *policy) decideError(hdr http.Header, err error, r *http.Request, repl *caddy.Replacer) decision {
	d := decision{status: statusOf(err), reason: reasonGatewayError, err: err, format: p.clientFormat(r)}
	if !p.gateway || !p.examined.has(d.status) {
		d.outcome = p.outcome(outcomePassed) // left to handle_errors
		return d
	}
	d.outcome = p.outcome(outcomeGateway)
	d.requestID = p.requestIDOf(&d, hdr, repl)
	p.choose(&d, upstreamWords{}, r, repl)
	return d
}

// decideUnjudged decides an examined response that goes out without
// being judged: a stream, a gRPC response, or (report mode) a body over
// max_body, whose code is the one a rewrite would send.
func (p *policy) decideUnjudged(hw *holdWriter, reason string, r *http.Request, repl *caddy.Replacer) decision {
	d := decision{status: hw.status, outcome: p.outcome(outcomePassed), reason: reason, upstream: answeredBy(repl)}
	if reason == reasonTooLarge {
		if p.keepBody > 0 {
			d.kept = p.keptText(hw.Header(), nil, hw.held())
		}
		d.format = p.clientFormat(r)
		p.choose(&d, upstreamWords{}, r, repl)
	}
	return d
}

// outcome is what a decision's outcome becomes in this handler's mode:
// in report mode, every response is sent as it came and reported.
func (p *policy) outcome(o string) string {
	if p.report {
		return outcomeReported
	}
	return o
}

// clientFormat is the form this request's client reads errors in.
func (p *policy) clientFormat(r *http.Request) int {
	switch {
	case isGRPCRequest(r):
		return formatGRPC
	case p.problem && p.prefersProblem(r.Header["Accept"]):
		return formatProblem
	}
	return formatJSON
}

// prefersProblem is prefersProblem, remembered per Accept value: browsers
// and SDKs send the same long Accept with every request.
func (p *policy) prefersProblem(accept []string) bool {
	if len(accept) != 1 || len(accept[0]) >= maxCachedKey {
		return prefersProblem(accept)
	}
	if v, ok := p.accepts.get(accept[0]); ok {
		return v == 1
	}
	v := prefersProblem(accept)
	p.accepts.put(strings.Clone(accept[0]), boolInt(v))
	return v
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// requestIDOf is the request_id of d when it rewrites the response: the
// response's X-Request-Id when it has one (the upstream's, or one set by
// an earlier handler), so that the body and the header always agree;
// else the configured value. "" when request_id is off, and for a
// reported response, which sends none.
func (p *policy) requestIDOf(d *decision, hdr http.Header, repl *caddy.Replacer) string {
	if p.requestID.s == "" || !d.rewrites() {
		return ""
	}
	if rid := headerValue(hdr, "X-Request-Id"); rid != "" {
		return rid
	}
	return p.requestID.render(repl)
}

// answeredBy is the host:port of the upstream that answered, as
// reverse_proxy recorded it, or "".
func answeredBy(repl *caddy.Replacer) string {
	if repl == nil {
		return ""
	}
	v, _ := repl.GetString("http.reverse_proxy.upstream.hostport")
	return v
}
