package errenvelope

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
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
)

// Headers that describe the upstream's body, and are wrong for the envelope.
var bodyHeaders = []string{
	"Content-Encoding", "Etag", "Last-Modified", "Content-Range", "Accept-Ranges",
	"Content-Md5", "Content-Disposition", "Content-Language", "Content-Location",
	"Digest", "Content-Digest", "Repr-Digest",
}

const jsonContentType = "application/json; charset=utf-8"

var jsonContentTypeValue = []string{jsonContentType}

// errUpstreamAborted stands for a response that broke off while it was
// being held (reverse_proxy panics with http.ErrAbortHandler then).
var errUpstreamAborted = errors.New("response aborted while its body was read")

// ServeHTTP runs the next handler with a writer that lets everything but
// the examined error statuses straight through, then judges the held
// error response (or the returned error) and writes what the client gets.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	iw := writerPool.Get().(*interceptWriter)
	iw.ResponseWriter, iw.h, iw.r = w, h, r
	defer iw.release()

	err, aborted := serveNext(iw, r, next)
	if iw.state == statePass {
		return err // bytes have reached the client: nothing left to change
	}
	if clientGone(r, err) {
		// Nobody is listening. Record the status for the access log, write
		// nothing, and do not report the client's leaving as an error.
		if iw.state == stateHold {
			w.WriteHeader(iw.status)
		} else if err != nil {
			w.WriteHeader(statusOf(err))
		}
		return nil
	}
	if aborted {
		if h.report {
			iw.flushHeld()
			panic(http.ErrAbortHandler)
		}
		err = caddyhttp.Error(http.StatusBadGateway, errUpstreamAborted)
	}
	if err != nil {
		return h.handleError(iw, r, err)
	}
	if iw.state == stateHold {
		h.judge(iw, r)
	}
	return nil
}

// serveNext calls next, turning the abort panic of a response that broke
// off while held into aborted. Once the response streams, the panic goes
// on to Caddy as usual.
func serveNext(iw *interceptWriter, r *http.Request, next caddyhttp.Handler) (err error, aborted bool) {
	defer func() {
		if iw.state != stateHold {
			return
		}
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler { //nolint:errorlint // the sentinel is panicked as is
				panic(p)
			}
			aborted = true
		}
	}()
	return next.ServeHTTP(iw, r), false
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

// handleError answers an error returned by the wrapped handler before any
// byte reached the client (§5 of the contract).
func (h *Handler) handleError(iw *interceptWriter, r *http.Request, err error) error {
	status := statusOf(err)
	hdr := iw.Header()
	rec := record{status: status, reason: reasonGatewayError, err: err}
	answers := h.gateway && h.statuses.has(status)
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	switch {
	case h.report:
		rec.outcome = outcomeReported
		if answers {
			rec.code = h.envelopeFor(status, hdr, upstreamWords{}, r, repl).code
		}
		h.observe(r, hdr, rec)
		iw.flushHeld()
		return err
	case !answers:
		rec.outcome = outcomePassed
		h.observe(r, hdr, rec)
		iw.dropHeld()
		return err
	}
	iw.dropHeld()
	rw := h.envelopeFor(status, hdr, upstreamWords{}, r, repl)
	rec.outcome, rec.code = outcomeGateway, rw.code
	h.observe(r, hdr, rec)
	h.writeRewrite(iw.ResponseWriter, r, status, rw)
	return nil
}

// verdict is the outcome of examining one held error response.
type verdict struct {
	reason string
	words  upstreamWords
	code   string // a conforming envelope's error_code
	size   int    // decoded body size, for the log
	body   []byte // the decoded body, for keep_body; valid until the held body is dropped
}

func (v verdict) passes() bool { return v.reason == reasonConforming || v.reason == reasonHead }

// judge examines the held response and writes it through or rewrites it.
func (h *Handler) judge(iw *interceptWriter, r *http.Request) {
	hdr := iw.Header()
	want := "application/json"
	if h.clientFormat(r) == formatProblem {
		want = problemType
	}
	v := h.examine(hdr, iw.held(), iw.tooLarge, r.Method == http.MethodHead, want)
	rec := record{status: iw.status, reason: v.reason, code: v.code, upstream: answeredBy(r), size: v.size}
	if h.keepBody > 0 {
		rec.body = h.keptText(hdr, v.body, iw.held())
	}
	if v.reason == reasonConforming && isGRPCRequest(r) {
		v.reason, rec.reason = reasonFormat, reasonFormat // a gRPC client cannot read JSON
	}
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if h.report {
		rec.outcome = outcomeReported
		switch {
		case v.reason == reasonFormat:
			rec.code = v.code
		case !v.passes():
			rec.code = h.envelopeFor(iw.status, hdr, v.words, r, repl).code
		}
		h.observe(r, hdr, rec)
		iw.flushHeld()
		return
	}
	if v.passes() {
		rec.outcome = outcomePassed
		h.observe(r, hdr, rec)
		iw.flushHeld()
		return
	}
	var rw rewrite
	if v.reason == reasonFormat {
		rw = h.reformatted(iw.status, hdr, v, r, repl)
	} else {
		rw = h.envelopeFor(iw.status, hdr, v.words, r, repl)
	}
	iw.dropHeld() // before the log line, which may hold keep_body's copy
	rec.outcome, rec.code = outcomeRewritten, rw.code
	h.observe(r, hdr, rec)
	h.writeRewrite(iw.ResponseWriter, r, iw.status, rw)
}

// examine decides whether a held error response conforms (§3) and, when
// it does not, what the upstream said in it (§4.1).
//
// want is the media type a conforming envelope has for this client:
// application/json, or application/problem+json for a client that asked
// for problem details; an envelope in application/json then conforms in
// all but its form (reason format).
func (h *Handler) examine(hdr http.Header, body []byte, tooLarge, head bool, want string) verdict {
	if tooLarge {
		return verdict{reason: reasonTooLarge}
	}
	mt := mediaType(headerValue(hdr, "Content-Type"))
	isJSON := mt == want || (want == problemType && mt == "application/json")
	if head {
		if isJSONType(mt) {
			return verdict{reason: reasonHead}
		}
		return verdict{reason: reasonNotJSON}
	}
	if ce := headerValue(hdr, "Content-Encoding"); ce != "" {
		decoded, err := decodeBody(body, ce, h.maxBody)
		switch {
		case errors.Is(err, errTooLarge):
			return verdict{reason: reasonTooLarge}
		case err != nil:
			return verdict{reason: reasonBadEncoding}
		}
		body = decoded
	}
	v := verdict{size: len(body), body: body}
	if len(bytes.TrimSpace(body)) == 0 {
		v.reason = reasonEmpty
		return v
	}
	switch {
	case isJSONType(mt):
		obj, isObject, err := parseObject(body)
		switch {
		case err != nil:
			v.reason = reasonInvalidJSON
			return v
		case !isObject:
			v.reason = reasonNotObject
			return v
		}
		v.words = wordsFromJSON(obj)
		if !isJSON {
			v.reason = reasonNotJSON
			return v
		}
		msg, _ := obj.str(kErrorMsg)
		code, _ := obj.str(kErrorCode)
		switch {
		case msg == "" || code == "":
			v.reason = reasonMissingFields
		case obj.hasDuplicates():
			v.reason = reasonDuplicate
		case h.codeRE != nil && !h.codeRE.MatchString(code):
			v.reason = reasonCodePattern
		case h.unknownRewrite && !h.errors.catalog.has(code):
			v.reason = reasonUnknownCode
		case mt != want:
			v.reason, v.code = reasonFormat, code
		default:
			v.reason, v.code = reasonConforming, code
		}
		return v
	case mt == "text/plain":
		v.reason = reasonNotJSON
		// A JSON error sent as text/plain still says what it means.
		if t := bytes.TrimSpace(body); t[0] == '{' {
			if obj, isObject, err := parseObject(t); err == nil && isObject {
				v.words = wordsFromJSON(obj)
				return v
			}
		}
		v.words = wordsFromText(body)
		return v
	}
	// HTML, XML and everything else: error pages carry stack traces and
	// server banners, so nothing of them is used.
	v.reason = reasonNotJSON
	return v
}

// unheldReason reports an examined response that is never held: one that
// asks intermediaries not to hold it, or a gRPC one.
func unheldReason(hdr http.Header) string {
	if headerValue(hdr, "Incremental") == "?1" {
		return reasonStream
	}
	switch mt := mediaType(headerValue(hdr, "Content-Type")); {
	case mt == "text/event-stream":
		return reasonStream
	case isGRPCType(mt):
		return reasonGRPC
	}
	return ""
}

// mediaType is the lower-cased type/subtype of a Content-Type value.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	for i := 0; i < len(ct); i++ {
		if c := ct[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(ct)
		}
	}
	return ct
}

// isJSONType reports JSON media types: application/json and its kin
// (application/problem+json, application/vnd.api+json, text/json,
// application/x-amz-json-1.1, …).
func isJSONType(mt string) bool {
	_, sub, _ := strings.Cut(mt, "/")
	return sub == "json" || strings.HasSuffix(sub, "+json") || strings.Contains(sub, "-json") // application/x-amz-json-1.1
}

// The forms an error is sent in.
const (
	formatJSON    = iota // the envelope
	formatProblem        // problem details (problem_details on, and the client's Accept prefers them)
	formatGRPC           // a gRPC trailers-only response
)

// clientFormat is the form this request's client reads errors in.
func (h *Handler) clientFormat(r *http.Request) int {
	switch {
	case r == nil:
		return formatJSON
	case isGRPCRequest(r):
		return formatGRPC
	case h.problemDetails && prefersProblem(r.Header["Accept"]):
		return formatProblem
	}
	return formatJSON
}

// rewrite is an envelope ready to send.
type rewrite struct {
	format    int
	body      []byte   // the envelope or problem details; nil for gRPC
	msg       string   // its error_msg
	code      string   // its error_code
	requestID string   // its request_id, also sent as X-Request-Id; "" when off
	lang      []string // Content-Language of a localized catalog message, else nil
}

// envelopeFor returns the rewrite for status in the client's form. When
// request_id is on, it carries the response's X-Request-Id when it has one
// (the upstream's, or one set by an earlier handler), so that the body and
// the header always agree.
func (h *Handler) envelopeFor(status int, hdr http.Header, up upstreamWords, r *http.Request, repl *caddy.Replacer) rewrite {
	rid := h.requestIDFor(hdr, repl)
	f := h.clientFormat(r)
	if f == formatJSON && up == (upstreamWords{}) && rid == "" && status >= minStatus && status <= maxStatus {
		if static := h.static[status-minStatus]; static != nil {
			body, msg, lang := static.pick(r)
			return rewrite{body: body, msg: msg, code: static.code, lang: lang}
		}
	}
	e := h.choose(status, up, r, repl)
	e.requestID = rid
	return h.encode(f, status, e, repl)
}

// reformatted is the rewrite of a conforming envelope for a client that
// reads another form: its own code and message, untouched by the rules.
func (h *Handler) reformatted(status int, hdr http.Header, v verdict, r *http.Request, repl *caddy.Replacer) rewrite {
	e := envelope{msg: h.cleanMessage(v.words.msg), code: v.code, requestID: h.requestIDFor(hdr, repl)}
	if e.msg == "" {
		e.msg = reasonPhrase(status)
	}
	return h.encode(h.clientFormat(r), status, e, repl)
}

func (h *Handler) requestIDFor(hdr http.Header, repl *caddy.Replacer) string {
	if h.RequestID == "" {
		return ""
	}
	if rid := headerValue(hdr, "X-Request-Id"); rid != "" {
		return rid
	}
	return h.requestID.render(repl)
}

// encode writes e out in form f.
func (h *Handler) encode(f, status int, e envelope, repl *caddy.Replacer) rewrite {
	rw := rewrite{format: f, msg: e.msg, code: e.code, requestID: e.requestID, lang: e.lang}
	switch f {
	case formatJSON:
		rw.body = h.appendEnvelope(make([]byte, 0, 128), e, repl)
	case formatProblem:
		rw.body = h.appendProblem(make([]byte, 0, 192), status, e, repl)
	}
	return rw
}

// writeRewrite sends an envelope with the headers of §2: the status and
// every header kept but those that describe the replaced body.
//
// A localized message adds its Content-Language, and Vary names the
// headers that chose the language, besides those the upstream named.
func (h *Handler) writeRewrite(w http.ResponseWriter, r *http.Request, status int, rw rewrite) {
	if rw.format == formatGRPC {
		h.writeGRPC(w, status, rw)
		return
	}
	hdr := w.Header()
	for _, k := range bodyHeaders {
		delete(hdr, k)
	}
	dropTrailers(hdr)
	// Shared, never-modified value slices spare two allocations per
	// rewrite; net/http and Caddy replace header values, never edit them.
	hdr["Content-Type"] = jsonContentTypeValue
	if rw.format == formatProblem {
		hdr["Content-Type"] = problemContentTypeValue
	}
	if cl := h.staticLengths[len(rw.body)]; cl != nil {
		hdr["Content-Length"] = cl
	} else {
		hdr["Content-Length"] = []string{strconv.Itoa(len(rw.body))}
	}
	if rw.requestID != "" {
		hdr.Set("X-Request-Id", rw.requestID)
	}
	if rw.lang != nil {
		hdr["Content-Language"] = rw.lang
		addVary(hdr, varyLanguage)
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(rw.body)
	}
}

// The states of an interceptWriter.
const (
	stateIdle = iota // nothing written yet
	statePass        // status not examined: everything goes straight through
	stateHold        // examined status: the response is held until judged
)

// interceptWriter holds examined error responses (up to max_body bytes)
// and passes every other response straight to the client. The header map
// is the real one, shared, so passing costs nothing.
type interceptWriter struct {
	http.ResponseWriter
	h        *Handler
	r        *http.Request
	state    int
	status   int
	buf      *[]byte // the held body, from bufPool
	tooLarge bool    // held body passed max_body; its bytes are discarded
}

var writerPool = sync.Pool{New: func() any { return new(interceptWriter) }}

// bufPool recycles held-body buffers. Buffers that grew past
// maxPooledBuf are left to the garbage collector, so a burst of large
// errors does not pin memory afterwards.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledBuf = 256 << 10

func (iw *interceptWriter) release() {
	iw.dropHeld()
	*iw = interceptWriter{}
	writerPool.Put(iw)
}

// WriteHeader decides, on the status alone, whether the response streams
// or is held. This is the only work a non-error response pays for.
func (iw *interceptWriter) WriteHeader(status int) {
	if iw.state != stateIdle {
		if iw.state == statePass {
			iw.ResponseWriter.WriteHeader(status) // let net/http report it
		}
		return
	}
	if status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		iw.ResponseWriter.WriteHeader(status) // 103 Early Hints and friends
		return
	}
	if !iw.h.statuses.has(status) {
		iw.state = statePass
		deliverTrailers(iw.r, iw.Header())
		iw.ResponseWriter.WriteHeader(status)
		return
	}
	if reason := unheldReason(iw.Header()); reason != "" {
		// An error that streams (Incremental: ?1, text/event-stream) is
		// never held: holding it would stall the stream. Nor is a gRPC
		// one: its clients read its status from its trailers.
		iw.state = statePass
		rec := record{status: status, outcome: outcomePassed, reason: reason, upstream: answeredBy(iw.r)}
		if iw.h.report {
			rec.outcome = outcomeReported
		}
		iw.h.observe(iw.r, iw.Header(), rec)
		deliverTrailers(iw.r, iw.Header())
		iw.ResponseWriter.WriteHeader(status)
		return
	}
	iw.state, iw.status = stateHold, status
	if cl := headerValue(iw.Header(), "Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > int64(iw.h.maxBody) {
			iw.overflow()
		}
	}
}

func (iw *interceptWriter) Write(p []byte) (int, error) {
	if iw.state == stateIdle {
		iw.WriteHeader(http.StatusOK)
	}
	if iw.state == statePass {
		return iw.ResponseWriter.Write(p)
	}
	if iw.tooLarge {
		iw.hold(p, iw.h.keepBody) // keep_body's first bytes, if any
		return len(p), nil
	}
	if len(iw.held())+len(p) > iw.h.maxBody {
		iw.overflow()
		if iw.state == statePass {
			return iw.ResponseWriter.Write(p)
		}
		iw.hold(p, iw.h.keepBody)
		return len(p), nil
	}
	iw.hold(p, iw.h.maxBody)
	return len(p), nil
}

// hold appends what of p fits within limit bytes to the held body. The
// buffer grows as append's would, but never past limit.
func (iw *interceptWriter) hold(p []byte, limit int) {
	if iw.buf == nil {
		if limit == 0 {
			return
		}
		iw.buf = bufPool.Get().(*[]byte)
	}
	b := *iw.buf
	p = p[:min(len(p), max(limit-len(b), 0))]
	need := len(b) + len(p)
	if need > cap(b) {
		nb := make([]byte, len(b), min(max(2*cap(b), need), limit))
		copy(nb, b)
		b = nb
	}
	*iw.buf = append(b, p...)
}

// overflow handles a held body that passes max_body. Rewrite mode stops
// holding it; report mode, which must not change the response, logs the
// verdict and lets the response stream on.
//
// With keep_body, the first keep_body bytes stay held for the record;
// the rest is let go.
func (iw *interceptWriter) overflow() {
	h := iw.h
	if h.report {
		rec := record{status: iw.status, outcome: outcomeReported, reason: reasonTooLarge, upstream: answeredBy(iw.r)}
		if h.keepBody > 0 {
			rec.body = h.keptText(iw.Header(), nil, iw.held())
		}
		if repl, ok := iw.r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
			rec.code = h.envelopeFor(iw.status, iw.Header(), upstreamWords{}, iw.r, repl).code
		}
		h.observe(iw.r, iw.Header(), rec)
		iw.flushHeld()
		return
	}
	iw.tooLarge = true
	switch {
	case h.keepBody == 0:
		iw.dropHeld()
	case iw.buf != nil && cap(*iw.buf) > 2*h.keepBody:
		// Keep the first bytes in a buffer of their size and let the
		// large one go for the rest of the response.
		kept := append(make([]byte, 0, h.keepBody), (*iw.buf)[:min(len(*iw.buf), h.keepBody)]...)
		iw.dropHeld()
		iw.buf = &kept
	case iw.buf != nil:
		*iw.buf = (*iw.buf)[:min(len(*iw.buf), h.keepBody)]
	}
}

// held returns the body held so far.
func (iw *interceptWriter) held() []byte {
	if iw.buf == nil {
		return nil
	}
	return *iw.buf
}

// flushHeld writes the held response through unchanged and lets the rest
// stream.
func (iw *interceptWriter) flushHeld() {
	if iw.state != stateHold {
		return
	}
	iw.state = statePass
	hdr := iw.Header()
	trailers := takeTrailers(hdr) // back after the header, as trailers
	deliverTrailers(iw.r, hdr)
	iw.ResponseWriter.WriteHeader(iw.status)
	if body := iw.held(); len(body) > 0 {
		_, _ = iw.ResponseWriter.Write(body)
	}
	for k, v := range trailers {
		hdr[k] = v
	}
	iw.dropHeld()
}

// dropHeld forgets the held body.
func (iw *interceptWriter) dropHeld() {
	if iw.buf != nil {
		if cap(*iw.buf) <= maxPooledBuf {
			*iw.buf = (*iw.buf)[:0]
			bufPool.Put(iw.buf)
		}
		iw.buf = nil
	}
}

// ReadFrom keeps sendfile and friends for responses that stream.
func (iw *interceptWriter) ReadFrom(src io.Reader) (int64, error) {
	if iw.state == stateIdle {
		iw.WriteHeader(http.StatusOK)
	}
	if iw.state == statePass {
		if rf, ok := iw.ResponseWriter.(io.ReaderFrom); ok {
			return rf.ReadFrom(src)
		}
		return io.Copy(iw.ResponseWriter, src)
	}
	return io.Copy(writerOnly{iw}, src)
}

type writerOnly struct{ io.Writer }

// FlushError flushes streaming responses; a held response is not flushed
// (http.ResponseController finds this method first).
func (iw *interceptWriter) FlushError() error {
	if iw.state == stateIdle {
		iw.WriteHeader(http.StatusOK)
	}
	if iw.state == stateHold {
		return nil
	}
	return http.NewResponseController(iw.ResponseWriter).Flush()
}

// Flush implements http.Flusher for handlers that assert it directly.
func (iw *interceptWriter) Flush() { _ = iw.FlushError() }

// Hijack hands the connection over (websocket upgrades). A hijacked
// response is no longer ours to change.
func (iw *interceptWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	iw.state = statePass
	iw.dropHeld()
	return http.NewResponseController(iw.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the real writer's other
// methods (deadlines, full duplex).
func (iw *interceptWriter) Unwrap() http.ResponseWriter { return iw.ResponseWriter }

// headerValue is hdr.Get for a key already in canonical form, without
// canonicalising it again on every error response.
func headerValue(hdr http.Header, canonicalKey string) string {
	if v := hdr[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}
