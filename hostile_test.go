package errenvelope

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

const exactEnvelope = `{"error_msg":"Request body is invalid.","error_code":"IAM.0011"}`

// TestEncodings: envelopes pass still encoded; other encoded errors are
// decoded, examined and rewritten as identity (SPEC §3, §6).
func TestEncodings(t *testing.T) {
	startGateway(t)
	var rows []row
	for _, coding := range []string{"gzip", "deflate", "br", "zstd"} {
		encoded := string(compress(coding, []byte(exactEnvelope)))
		rows = append(rows,
			row{name: coding + " envelope passes byte for byte", route: "/default",
				reply:      reply{status: 400, header: h("Content-Type", ctJSON, "Content-Encoding", coding, "Vary", "Accept-Encoding"), body: encoded},
				wantStatus: 400, wantBody: encoded,
				wantHeader: h("Content-Encoding", coding, "Content-Type", ctJSON, "Vary", "Accept-Encoding")},
			row{name: coding + " spring error is decoded and rewritten", route: "/default",
				reply:      reply{status: 404, header: h("Content-Type", ctJSON), body: springBoot, coding: coding},
				wantStatus: 404, wantBody: env("No static resource api/x.", "GATEWAY.0404"), envelope: true,
				wantHeader: h("Vary", "")},
		)
	}
	rows = append(rows,
		row{name: "gzip envelope in chunks passes byte for byte", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON, "Content-Encoding", "gzip"), body: string(compress("gzip", []byte(exactEnvelope))), chunked: true},
			wantStatus: 400, wantBody: string(compress("gzip", []byte(exactEnvelope))), wantHeader: h("Content-Encoding", "gzip")},
		row{name: "corrupt gzip is rewritten", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON, "Content-Encoding", "gzip"), body: exactEnvelope},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		row{name: "truncated gzip is rewritten", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON, "Content-Encoding", "gzip"), body: string(compress("gzip", []byte(exactEnvelope))[:30])},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		row{name: "unknown coding is rewritten", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON, "Content-Encoding", "compress"), body: exactEnvelope},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		row{name: "two codings are undone in order", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON, "Content-Encoding", "deflate, gzip"), body: string(compress("gzip", compress("deflate", []byte(`{"message":"twice"}`))))},
			wantStatus: 400, wantBody: env("twice", "GATEWAY.0400"), envelope: true},
		row{name: "gzip bomb stops at max_body", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON, "Content-Encoding", "gzip"), body: string(gzipBomb(t, 64<<20))},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
	)
	for _, rw := range rows {
		// As browsers and SDKs do; without it, Caddy's proxy transport asks
		// the upstream for gzip itself and decodes it before this handler.
		rw.header = h("Accept-Encoding", "gzip, deflate, br, zstd")
		t.Run(rw.name, rw.run)
	}
}

// gzipBomb compresses n zero bytes (about 1000:1).
func gzipBomb(t testing.TB, n int) []byte {
	t.Helper()
	return compress("gzip", make([]byte, n))
}

// TestDecodeStopsAtLimit: a compression bomb is inflated to the limit and
// no further.
func TestDecodeStopsAtLimit(t *testing.T) {
	bomb := gzipBomb(t, 64<<20)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := decodeBody(bomb, "gzip", 1<<20)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errTooLarge) {
		t.Fatalf("err = %v, want errTooLarge", err)
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 8<<20 {
		t.Fatalf("decoding a 64 MiB bomb with a 1 MiB limit allocated %d bytes", allocated)
	}
	for _, coding := range []string{"deflate", "br", "zstd"} {
		if _, err := decodeBody(compress(coding, make([]byte, 4<<20)), coding, 1<<20); !errors.Is(err, errTooLarge) {
			t.Errorf("%s bomb: err = %v, want errTooLarge", coding, err)
		}
	}
}

// TestLimitsAndHostileBodies: bodies over max_body, broken and hostile
// content always give a valid envelope and never raw upstream bytes.
func TestLimitsAndHostileBodies(t *testing.T) {
	startGateway(t)
	big := strings.Repeat("<p>internal detail</p>\n", 300) // ~7 KiB
	rows := []row{
		{name: "body over max_body with Content-Length", route: "/small",
			reply:      reply{status: 500, header: h("Content-Type", ctHTML), body: big},
			wantStatus: 500, wantBody: env("Internal Server Error", "GATEWAY.0500"), envelope: true},
		{name: "chunked body over max_body", route: "/small",
			reply:      reply{status: 500, header: h("Content-Type", ctHTML), body: big, chunked: true},
			wantStatus: 500, wantBody: env("Internal Server Error", "GATEWAY.0500"), envelope: true},
		{name: "json over max_body loses its message", route: "/small",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"message":"too long to read","pad":"` + strings.Repeat("x", 2048) + `"}`},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		{name: "envelope over max_body is rewritten", route: "/small",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"error_msg":"m","error_code":"C.1","pad":"` + strings.Repeat("x", 2048) + `"}`, chunked: true},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		// max_body is the most bytes held: a body of exactly that size,
		// announced by Content-Length or not, is read whole.
		{name: "envelope of exactly max_body with Content-Length passes", route: "/small",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: exactly(1024)},
			wantStatus: 400, wantBody: exactly(1024), wantHeader: h("Content-Length", "1024")},
		{name: "chunked envelope of exactly max_body passes", route: "/small",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: exactly(1024), chunked: true},
			wantStatus: 400, wantBody: exactly(1024)},
		{name: "envelope one byte over max_body with Content-Length is rewritten", route: "/small",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: exactly(1025)},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		{name: "chunked envelope one byte over max_body is rewritten", route: "/small",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: exactly(1025), chunked: true},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		{name: "message cut to max_message", route: "/small",
			reply:      reply{status: 400, header: h("Content-Type", ctText), body: "this message is much longer than sixteen characters"},
			wantStatus: 400, wantBody: env("this message is", "GATEWAY.0400"), envelope: true},
		{name: "ten MiB string", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"message":"` + strings.Repeat("A", 10<<20) + `"}`},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		{name: "nul, control characters and invalid utf-8 in json", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: "{\"message\":\"a\\u0000b\\u0007c\\nd\xffe\\u2028f\"}"},
			wantStatus: 400, wantBody: env("a b c d\uFFFDe f", "GATEWAY.0400"), envelope: true},
		{name: "nul and invalid utf-8 in text", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctText), body: "oops\x00\xff bad \"quoted\" \\ back"},
			wantStatus: 400, wantBody: env("oops \uFFFD bad \"quoted\" \\ back", "GATEWAY.0400"), envelope: true},
		{name: "100k-deep array nesting", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: strings.Repeat("[", 100000) + strings.Repeat("]", 100000)},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		{name: "100k-deep object nesting", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: strings.Repeat(`{"error":`, 100000) + "1" + strings.Repeat("}", 100000)},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		{name: "duplicate error_msg, last one empty", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"error_msg":"ok","error_code":"A.1","error_msg":""}`},
			wantStatus: 400, wantBody: env("Bad Request", "A.1"), envelope: true},
		{name: "duplicate error_msg, first one empty", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"error_msg":"","error_code":"A.1","error_msg":"ok"}`},
			wantStatus: 400, wantBody: env("ok", "A.1"), envelope: true},
		{name: "error_code inside a string is no duplicate", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"error_msg":"see \"error_code\"","error_code":"A.1"}`},
			wantStatus: 400, wantBody: `{"error_msg":"see \"error_code\"","error_code":"A.1"}`, wantHeader: h("Content-Type", ctJSON)},
		{name: "code with control characters is not a code", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"error_code":"A.1\n","message":"x"}`},
			wantStatus: 400, wantBody: env("x", "GATEWAY.0400"), envelope: true},
	}
	for _, rw := range rows {
		t.Run(rw.name, rw.run)
	}
}

// TestBrokenUpstream: a body shorter than its Content-Length, cut off by
// a closed connection, gives the gateway's 502 envelope, never half a body.
func TestBrokenUpstream(t *testing.T) {
	startGateway(t)
	cut := func(status string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			_, _ = brw.WriteString("HTTP/1.1 " + status + "\r\nContent-Type: text/html\r\nContent-Length: 1000\r\nX-Upstream: broken\r\n\r\n<html><body>Stack trace: at db.connect(10.0.0.5")
			_ = brw.Flush()
			conn.Close()
		}
	}
	rows := []row{
		{name: "short 500 body", route: "/default", wantStatus: 502, wantBody: env("Bad Gateway", "GATEWAY.0502"), envelope: true},
		{name: "short 404 body with rules", route: "/mapped", wantStatus: 502, wantBody: env("Backend unavailable.", "APIG.0201"), envelope: true},
	}
	for i, rw := range rows {
		status := []string{"500 Internal Server Error", "404 Not Found"}[i]
		t.Run(rw.name, func(t *testing.T) {
			res, body := get(t, rw.route+special("cut-"+rw.route[1:], cut(status)))
			if res.StatusCode != rw.wantStatus || string(body) != rw.wantBody {
				t.Fatalf("got %d %q, want %d %q", res.StatusCode, body, rw.wantStatus, rw.wantBody)
			}
			if res.Header.Get("Content-Length") != "" && res.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Fatalf("Content-Length %q for %d bytes", res.Header.Get("Content-Length"), len(body))
			}
			checkEnvelope(t, body)
		})
	}
}

// TestClientGoneIsQuiet: a client that leaves gets nothing written and
// is not logged as an error.
func TestClientGoneIsQuiet(t *testing.T) {
	startGateway(t)
	canceled := make(chan struct{})
	p := special("client-gone", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		close(canceled)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gatewayAddr+"/default"+p, nil)
	if res, err := client.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("got a response (%d) after the client left", res.StatusCode)
	}
	select {
	case <-canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream never saw the request canceled")
	}
	time.Sleep(300 * time.Millisecond) // let Caddy finish the request and write its log
	f, err := os.Open(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	seen := false
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "client-gone") {
			continue
		}
		seen = true // the log is live: the proxy's debug lines name the request
		if strings.Contains(line, `"level":"error"`) {
			t.Errorf("logged as an error: %s", line)
		}
	}
	if !seen {
		t.Fatal("the request is not in Caddy's log at all")
	}
}

// TestClientGoneWritesNothing checks the same at the unit level, for both
// ways the proxy reports a departed client.
func TestClientGoneWritesNothing(t *testing.T) {
	h := newTestHandler(t, &Handler{})
	tests := map[string]caddyhttp.HandlerFunc{
		"proxy records 499 and returns nil": func(w http.ResponseWriter, r *http.Request) error {
			w.WriteHeader(499)
			return nil
		},
		"handler returns context canceled": func(w http.ResponseWriter, r *http.Request) error {
			return caddyhttp.Error(499, context.Canceled)
		},
	}
	for name, next := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			req := httptest.NewRequest(http.MethodGet, "/x", nil).WithContext(ctx)
			repl := caddyhttp.NewTestReplacer(req)
			req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, repl))
			rec := httptest.NewRecorder()
			if err := h.ServeHTTP(rec, req, next); err != nil {
				t.Fatalf("returned %v, want nil", err)
			}
			if rec.Code != 499 || rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
				t.Fatalf("wrote %d %q %v, want a bare 499 for the access log", rec.Code, rec.Body.String(), rec.Header())
			}
		})
	}
}

// TestHugeStringWithinMaxBody: a 10 MiB JSON string that fits max_body is
// read in one pass and cut to max_message.
func TestHugeStringWithinMaxBody(t *testing.T) {
	h := newTestHandler(t, &Handler{MaxBody: 32 << 20})
	hdr := http.Header{"Content-Type": {"application/json"}}
	body := []byte(`{"message":"` + strings.Repeat("A", 10<<20) + `","code":"HUGE"}`)
	v := h.policy.examine(hdr, body, false, false, formatJSON)
	if v.reason != reasonMissingFields {
		t.Fatalf("reason = %s", v.reason)
	}
	out := rewriteOf(h, 400, v.words)
	want := env(strings.Repeat("A", defaultMaxMessage), "GATEWAY.0400")
	if string(out) != want {
		t.Fatalf("envelope of %d bytes, want %d", len(out), len(want))
	}
	checkEnvelope(t, out)
}

// exactly is a conforming envelope of n bytes.
func exactly(n int) string {
	head, tail := `{"error_msg":"m","error_code":"C.1","pad":"`, `"}`
	return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
}
