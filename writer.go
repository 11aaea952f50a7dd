package errenvelope

// The response writer: it holds the examined error responses (up to
// max_body bytes) and streams every other response straight through. It
// knows nothing of codes, messages or the handler: whoever runs it reads
// what it held once the wrapped handler returns.

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
)

// The states of a holdWriter.
const (
	stateIdle = iota // nothing written yet
	statePass        // status not examined: everything goes straight through
	stateHold        // examined status: the response is held until judged
)

// passNotice is told of an examined response that goes out without
// being judged (a stream, a gRPC response, a body over max_body in
// report mode), before its header is written, so that it can be recorded
// while the placeholders still reach the header.
type passNotice interface {
	unjudged(reason string)
}

// holdWriter holds examined error responses and passes every other
// response straight to the client. The header map is the real one,
// shared, so passing costs nothing.
type holdWriter struct {
	http.ResponseWriter
	examined *statusSet
	maxBody  int
	keepBody int
	// streamOverflow: a held body that passes max_body is let through
	// (report mode) rather than cut.
	streamOverflow bool
	http1          bool // the client speaks HTTP/1.x
	notice         passNotice

	state    int
	status   int
	buf      *[]byte // the held body, from bufPool
	tooLarge bool    // held body passed max_body; its bytes are discarded
}

// bufPool recycles held-body buffers. Buffers that grew past
// maxPooledBuf are left to the garbage collector, so a burst of large
// errors does not pin memory afterwards.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledBuf = 256 << 10

// WriteHeader decides, on the status alone, whether the response streams
// or is held. This is the only work a non-error response pays for.
func (hw *holdWriter) WriteHeader(status int) {
	if hw.state != stateIdle {
		if hw.state == statePass {
			hw.ResponseWriter.WriteHeader(status) // let net/http report it
		}
		return
	}
	if status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		hw.ResponseWriter.WriteHeader(status) // 103 Early Hints and friends
		return
	}
	if !hw.examined.has(status) {
		hw.pass(status)
		return
	}
	if reason := unheldReason(hw.Header()); reason != "" {
		// An error that streams (Incremental: ?1, text/event-stream) is
		// never held: holding it would stall the stream. Nor is a gRPC
		// one: its clients read its status from its trailers.
		hw.status = status
		hw.notice.unjudged(reason)
		hw.pass(status)
		return
	}
	hw.state, hw.status = stateHold, status
	if cl := headerValue(hw.Header(), "Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > int64(hw.maxBody) {
			hw.overflow()
		}
	}
}

// pass writes the header through; the body follows unheld.
func (hw *holdWriter) pass(status int) {
	hw.state = statePass
	hw.deliverTrailers()
	hw.ResponseWriter.WriteHeader(status)
}

func (hw *holdWriter) Write(p []byte) (int, error) {
	if hw.state == stateIdle {
		hw.WriteHeader(http.StatusOK)
	}
	if hw.state == statePass {
		return hw.ResponseWriter.Write(p)
	}
	if hw.tooLarge {
		hw.hold(p, hw.keepBody) // keep_body's first bytes, if any
		return len(p), nil
	}
	if len(hw.held())+len(p) > hw.maxBody {
		hw.overflow()
		if hw.state == statePass {
			return hw.ResponseWriter.Write(p)
		}
		hw.hold(p, hw.keepBody)
		return len(p), nil
	}
	hw.hold(p, hw.maxBody)
	return len(p), nil
}

// hold appends what of p fits within limit bytes to the held body. The
// buffer grows as append's would, but never past limit.
func (hw *holdWriter) hold(p []byte, limit int) {
	if hw.buf == nil {
		if limit == 0 {
			return
		}
		hw.buf = bufPool.Get().(*[]byte)
	}
	b := *hw.buf
	p = p[:min(len(p), max(limit-len(b), 0))]
	need := len(b) + len(p)
	if need > cap(b) {
		nb := make([]byte, len(b), min(max(2*cap(b), need), limit))
		copy(nb, b)
		b = nb
	}
	*hw.buf = append(b, p...)
}

// overflow handles a held body that passes max_body. The writer stops
// holding it: its first keep_body bytes stay held for the record, the
// rest is let go. In report mode, which must not change the response,
// the response is let through from here on instead.
func (hw *holdWriter) overflow() {
	if hw.streamOverflow {
		hw.notice.unjudged(reasonTooLarge)
		hw.flushHeld()
		return
	}
	hw.tooLarge = true
	switch {
	case hw.keepBody == 0:
		hw.dropHeld()
	case hw.buf != nil && cap(*hw.buf) > 2*hw.keepBody:
		// Keep the first bytes in a buffer of their size and let the
		// large one go for the rest of the response.
		kept := append(make([]byte, 0, hw.keepBody), (*hw.buf)[:min(len(*hw.buf), hw.keepBody)]...)
		hw.dropHeld()
		hw.buf = &kept
	case hw.buf != nil:
		*hw.buf = (*hw.buf)[:min(len(*hw.buf), hw.keepBody)]
	}
}

// held returns the body held so far.
func (hw *holdWriter) held() []byte {
	if hw.buf == nil {
		return nil
	}
	return *hw.buf
}

// flushHeld writes the held response through unchanged and lets the rest
// stream. Trailers that reverse_proxy put in the header map go back
// after the header, where Go's servers send them as trailers again.
func (hw *holdWriter) flushHeld() {
	if hw.state != stateHold {
		return
	}
	hw.state = statePass
	hdr := hw.Header()
	trailers := takeTrailers(hdr)
	hw.deliverTrailers()
	hw.ResponseWriter.WriteHeader(hw.status)
	if body := hw.held(); len(body) > 0 {
		_, _ = hw.ResponseWriter.Write(body)
	}
	for k, v := range trailers {
		hdr[k] = v
	}
	hw.dropHeld()
}

// dropHeld forgets the held body.
func (hw *holdWriter) dropHeld() {
	if hw.buf != nil {
		if cap(*hw.buf) <= maxPooledBuf {
			*hw.buf = (*hw.buf)[:0]
			bufPool.Put(hw.buf)
		}
		hw.buf = nil
	}
}

// deliverTrailers makes an HTTP/1.x response that announces trailers able
// to carry them: HTTP/1.1 sends trailers only with chunked coding, which
// a Content-Length (such as an HTTP/2 upstream's) rules out, so it goes.
// HTTP/2 and HTTP/3 carry trailers either way.
func (hw *holdWriter) deliverTrailers() {
	if hdr := hw.Header(); hw.http1 && len(hdr["Trailer"]) > 0 {
		delete(hdr, "Content-Length")
	}
}

// ReadFrom keeps sendfile and friends for responses that stream.
func (hw *holdWriter) ReadFrom(src io.Reader) (int64, error) {
	if hw.state == stateIdle {
		hw.WriteHeader(http.StatusOK)
	}
	if hw.state == statePass {
		if rf, ok := hw.ResponseWriter.(io.ReaderFrom); ok {
			return rf.ReadFrom(src)
		}
		return io.Copy(hw.ResponseWriter, src)
	}
	return io.Copy(writerOnly{hw}, src)
}

type writerOnly struct{ io.Writer }

// FlushError flushes streaming responses; a held response is not flushed
// (http.ResponseController finds this method first).
func (hw *holdWriter) FlushError() error {
	if hw.state == stateIdle {
		hw.WriteHeader(http.StatusOK)
	}
	if hw.state == stateHold {
		return nil
	}
	return http.NewResponseController(hw.ResponseWriter).Flush()
}

// Flush implements http.Flusher for handlers that assert it directly.
func (hw *holdWriter) Flush() { _ = hw.FlushError() }

// Hijack hands the connection over (websocket upgrades). A hijacked
// response is no longer ours to change.
func (hw *holdWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hw.state = statePass
	hw.dropHeld()
	return http.NewResponseController(hw.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the real writer's other
// methods (deadlines, full duplex).
func (hw *holdWriter) Unwrap() http.ResponseWriter { return hw.ResponseWriter }

// Interface guards
var (
	_ http.Flusher  = (*holdWriter)(nil)
	_ http.Hijacker = (*holdWriter)(nil)
	_ io.ReaderFrom = (*holdWriter)(nil)
)
