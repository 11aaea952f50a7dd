package errenvelope

// What happens to a response: the handler wraps the writer, calls the next
// handler, and when something was held (or an error returned), decides
// once and applies the decision once.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Headers that describe the upstream's body, and are wrong for the envelope.
var bodyHeaders = []string{
	"Content-Encoding", "Etag", "Last-Modified", "Content-Range", "Accept-Ranges",
	"Content-Md5", "Content-Disposition", "Content-Language", "Content-Location",
	"Digest", "Content-Digest", "Repr-Digest",
}

const jsonContentType = "application/json; charset=utf-8"

// errUpstreamAborted stands for a response that broke off while it was
// being held (reverse_proxy panics with http.ErrAbortHandler then).
var errUpstreamAborted = errors.New("response aborted while its body was read")

// exchange is one request's way through the handler: the writer that
// holds its response, and what a decision reads besides.
type exchange struct {
	hw   holdWriter
	h    *Handler
	p    *policy
	r    *http.Request
	repl *caddy.Replacer // looked up on the error path only
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

// ServeHTTP runs the next handler with a writer that lets everything but
// the examined error statuses straight through, then decides on the held
// error response (or the returned error) and applies the decision.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	p := h.policy
	ex := exchangePool.Get().(*exchange)
	ex.h, ex.p, ex.r = h, p, r
	ex.hw = holdWriter{
		ResponseWriter: w, examined: &p.examined, maxBody: p.maxBody, keepBody: p.keepBody,
		streamOverflow: p.report, http1: r.ProtoMajor == 1, notice: ex,
	}
	defer ex.release()

	hw := &ex.hw
	err, aborted := serveNext(hw, r, next)
	if hw.state == statePass {
		return err // bytes have reached the client: nothing left to change
	}
	if clientGone(r, err) {
		// Nobody is listening. Record the status for the access log, write
		// nothing, and do not report the client's leaving as an error.
		if hw.state == stateHold {
			w.WriteHeader(hw.status)
		} else if err != nil {
			w.WriteHeader(statusOf(err))
		}
		return nil
	}
	if aborted {
		if p.report {
			hw.flushHeld() // report mode changes nothing, not even a break
			panic(http.ErrAbortHandler)
		}
		err = caddyhttp.Error(http.StatusBadGateway, errUpstreamAborted)
	}
	var d decision
	switch {
	case err != nil:
		d = p.decideError(hw.Header(), err, r, ex.replacer())
	case hw.state == stateHold:
		d = p.decideHeld(hw, r, ex.replacer())
	default:
		return nil // nothing written, nothing returned
	}
	return ex.apply(&d)
}

// serveNext calls next, turning the abort panic of a response that broke
// off while held into aborted. Once the response streams, the panic goes
// on to Caddy as usual.
func serveNext(hw *holdWriter, r *http.Request, next caddyhttp.Handler) (err error, aborted bool) {
	defer func() {
		if hw.state != stateHold {
			return
		}
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler { //nolint:errorlint // the sentinel is panicked as is
				panic(p)
			}
			aborted = true
		}
	}()
	return next.ServeHTTP(hw, r), false
}

func clientGone(r *http.Request, err error) bool {
	return r.Context().Err() != nil || errors.Is(err, context.Canceled)
}

func statusOf(err error) int {
	var he caddyhttp.HandlerError
	if errors.As(err, &he) && he.StatusCode != 0 {
		return he.StatusCode
	}
	return http.StatusInternalServerError
}

func (ex *exchange) replacer() *caddy.Replacer {
	if ex.repl == nil {
		ex.repl, _ = ex.r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	}
	return ex.repl
}

// unjudged records an examined response that the writer lets through
// unjudged, before its header is written.
func (ex *exchange) unjudged(reason string) {
	d := ex.p.decideUnjudged(&ex.hw, reason, ex.r, ex.replacer())
	ex.p.vary(ex.hw.Header(), &d, nil)
	ex.h.record(ex.r, ex.hw.Header(), ex.repl, &d)
}

func (ex *exchange) release() {
	ex.hw.dropHeld()
	*ex = exchange{}
	exchangePool.Put(ex)
}

// apply carries out a decision: records it, then passes the response,
// or writes the rewrite in the client's form, or returns the gateway
// error left to Caddy.
func (ex *exchange) apply(d *decision) error {
	hw := &ex.hw
	hdr := hw.Header()
	if d.rewrites() {
		hw.dropHeld() // before the log line, which may hold keep_body's copy
		// The header values the rewrite sets, Vary's among them, in one
		// allocation.
		ex.h.record(ex.r, hdr, ex.repl, d)
		clearBody(hdr)
		hv := ownedValues(7)
		ex.p.vary(hdr, d, &hv)
		if d.format == formatGRPC {
			ex.p.writeGRPC(hw.ResponseWriter, ex.r, d, &hv)
		} else {
			ex.p.writeRewrite(hw.ResponseWriter, ex.r, d, ex.repl, &hv)
		}
		return nil
	}
	ex.p.vary(hdr, d, nil)
	ex.h.record(ex.r, hdr, ex.repl, d)
	switch {
	case d.err != nil:
		if d.outcome == outcomeReported {
			hw.flushHeld()
		} else {
			hw.dropHeld()
		}
		return d.err
	}
	hw.flushHeld()
	return nil
}

// vary adds to Vary what the response's form and language were chosen
// by: with problem_details on, every examined response varies by Accept;
// a localized rewrite (not a gRPC one: its clients read no body) by the
// language headers. One merge, before the
// header is written.
func (p *policy) vary(hdr http.Header, d *decision, hv *headerValues) {
	localized := d.lang != "" && d.rewrites() && d.format != formatGRPC
	switch {
	case p.problem && localized:
		addVary(hdr, varyAcceptLanguage, hv)
	case p.problem:
		addVary(hdr, varyAccept, hv)
	case localized:
		addVary(hdr, varyLanguage, hv)
	}
}

// clearBody removes what describes a body that is replaced: its headers
// (§2) and its trailers. Every other header stays.
func clearBody(hdr http.Header) {
	for _, k := range bodyHeaders {
		delete(hdr, k)
	}
	dropTrailers(hdr)
}

// writeRewrite sends an envelope, or problem details, with the headers of
// §2: the status, and every header but those of the replaced body, which
// clearBody has removed. A localized message adds its Content-Language.
func (p *policy) writeRewrite(w http.ResponseWriter, r *http.Request, d *decision, repl *caddy.Replacer, hv *headerValues) {
	body, length := d.body, d.length
	if body == nil {
		if d.format == formatProblem {
			body = p.appendProblem(make([]byte, 0, 192), d.status, d.msg, d.code, d.typ, d.requestID, repl)
		} else {
			body = p.appendEnvelope(make([]byte, 0, 128), d.msg, d.code, d.requestID, repl)
		}
	}
	if length == "" {
		length = strconv.Itoa(len(body))
	}
	hdr := w.Header()
	ct := jsonContentType
	if d.format == formatProblem {
		ct = problemType
	}
	hdr["Content-Type"] = hv.one(ct)
	hdr["Content-Length"] = hv.one(length)
	if d.requestID != "" {
		hdr["X-Request-Id"] = hv.one(d.requestID)
	}
	if d.lang != "" {
		hdr["Content-Language"] = hv.one(d.lang)
	}
	w.WriteHeader(d.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// headerValues hands out one-value header slices from one allocation.
// Each response owns its values: Caddy's header handler edits values in
// place, so a value slice shared between responses would change them all.
type headerValues []string

func ownedValues(n int) headerValues { return make(headerValues, 0, n) }

// one returns a slice holding just v, which no other slice can grow into;
// a fresh one when hv is nil.
func (hv *headerValues) one(v string) []string {
	if hv == nil {
		return []string{v}
	}
	*hv = append(*hv, v)
	n := len(*hv)
	return (*hv)[n-1 : n : n]
}
