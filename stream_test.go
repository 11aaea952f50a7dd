package errenvelope

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// readWithin reads one line from br, failing the test after d: the line
// must arrive while the upstream still holds its stream open.
func readWithin(t *testing.T, br *bufio.Reader, d time.Duration) string {
	t.Helper()
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := br.ReadString('\n')
		ch <- result{line, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("read: %v", r.err)
		}
		return r.line
	case <-time.After(d):
		t.Fatalf("nothing arrived within %v: the response is held", d)
		return ""
	}
}

// holdingStream answers with status and contentType, sends one line,
// and holds the stream open until release is closed.
func holdingStream(status int, header map[string]string, release chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: two\n\n")
	}
}

// TestStreamsPassUnheld: successes and streamed errors reach the client
// while the upstream is still sending.
func TestStreamsPassUnheld(t *testing.T) {
	startGateway(t)
	tests := []struct {
		name   string
		status int
		header map[string]string
	}{
		{"sse first event arrives while the upstream holds the stream", 200, h("Content-Type", "text/event-stream")},
		{"sse with an error status is not held", 503, h("Content-Type", "text/event-stream")},
		{"incremental success is not held", 200, h("Content-Type", "application/octet-stream", "Incremental", "?1")},
		{"incremental error is not held", 500, h("Content-Type", "text/html", "Incremental", "?1")},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			p := special(fmt.Sprintf("stream-%d", i), holdingStream(tt.status, tt.header, release))
			res, err := client.Get(gatewayAddr + "/default" + p)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.status)
			}
			if ct := res.Header.Get("Content-Type"); ct != tt.header["Content-Type"] {
				t.Fatalf("Content-Type = %q, want %q", ct, tt.header["Content-Type"])
			}
			br := bufio.NewReader(res.Body)
			if line := readWithin(t, br, 3*time.Second); line != "data: one\n" {
				t.Fatalf("first line = %q", line)
			}
			close(release)
			rest, err := io.ReadAll(br)
			if err != nil {
				t.Fatal(err)
			}
			if string(rest) != "\ndata: two\n\n" {
				t.Fatalf("rest = %q", rest)
			}
		})
	}
}

// TestWebsocketUpgrade: a 101 upgrade carries bytes both ways through the
// handler.
func TestWebsocketUpgrade(t *testing.T) {
	startGateway(t)
	p := special("ws", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nhello\n")
		_ = brw.Flush()
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		_, _ = brw.WriteString("echo: " + line)
		_ = brw.Flush()
	})
	conn, err := net.DialTimeout("tcp", "127.0.0.1:9080", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /default%s HTTP/1.1\r\nHost: 127.0.0.1:9080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", p)
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("status %d, Upgrade %q; want 101 websocket", res.StatusCode, res.Header.Get("Upgrade"))
	}
	if line, _ := br.ReadString('\n'); line != "hello\n" {
		t.Fatalf("upstream to client: %q", line)
	}
	fmt.Fprint(conn, "ping\n")
	if line, _ := br.ReadString('\n'); line != "echo: ping\n" {
		t.Fatalf("client to upstream and back: %q", line)
	}
}

// TestEarlyHints: a 103 reaches the client before the final response.
func TestEarlyHints(t *testing.T) {
	startGateway(t)
	gotHints := make(chan struct{})
	p := special("hints", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		final := "final without hints"
		select {
		case <-gotHints:
			final = "final after hints"
		case <-time.After(3 * time.Second):
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, final)
	})
	var hintLink string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
		if code == http.StatusEarlyHints {
			hintLink = header.Get("Link")
			close(gotHints)
		}
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, gatewayAddr+"/default"+p, nil)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if hintLink != "</app.css>; rel=preload; as=style" {
		t.Fatalf("103 Link = %q", hintLink)
	}
	if res.StatusCode != 200 || string(body) != "final after hints" {
		t.Fatalf("final: %d %q", res.StatusCode, body)
	}
}

// newTestHandler provisions h as Caddy would.
func newTestHandler(t testing.TB, h *Handler) *Handler {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	return h
}

// serveWith runs h in a real HTTP server in front of next.
func serveWith(t *testing.T, h *Handler, next caddyhttp.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repl := caddy.NewReplacer()
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
		if err := h.ServeHTTP(w, r, next); err != nil {
			http.Error(w, "returned: "+err.Error(), statusOf(err))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestResponseControllerThroughWriter: http.ResponseController flushes,
// hijacks and sets deadlines through the handler's writer.
func TestResponseControllerThroughWriter(t *testing.T) {
	h := newTestHandler(t, &Handler{})
	release := make(chan struct{})
	srv := serveWith(t, h, func(w http.ResponseWriter, r *http.Request) error {
		rc := http.NewResponseController(w)
		switch r.URL.Path {
		case "/flush":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "first\n")
			if err := rc.Flush(); err != nil {
				return err
			}
			<-release
			_, _ = io.WriteString(w, "second\n")
		case "/hijack":
			conn, brw, err := rc.Hijack()
			if err != nil {
				return err
			}
			defer conn.Close()
			_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
			return brw.Flush()
		case "/deadline":
			if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				return err
			}
			_, _ = io.WriteString(w, "deadline set")
		case "/held-flush":
			// Flushing a held error must not send its status early.
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "<h1>oops</h1>")
			if err := rc.Flush(); err != nil {
				return err
			}
			_, _ = io.WriteString(w, "<p>more</p>")
		}
		return nil
	})

	res, err := http.Get(srv.URL + "/flush")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(res.Body)
	if line := readWithin(t, br, 3*time.Second); line != "first\n" {
		t.Fatalf("flush: first line %q", line)
	}
	close(release)
	if rest, _ := io.ReadAll(br); string(rest) != "second\n" {
		t.Fatalf("flush: rest %q", rest)
	}
	res.Body.Close()

	for path, want := range map[string]string{"/hijack": "hijacked", "/deadline": "deadline set"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != want {
			t.Errorf("%s: %d %q, want 200 %q", path, res.StatusCode, body, want)
		}
	}

	res, err = http.Get(srv.URL + "/held-flush")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 500 || string(body) != env("Internal Server Error", "GATEWAY.0500") {
		t.Fatalf("held flush: %d %q", res.StatusCode, body)
	}
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("held flush: Content-Type %q", res.Header.Get("Content-Type"))
	}
}
