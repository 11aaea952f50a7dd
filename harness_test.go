package errenvelope

// The integration harness: one real Caddy, in-process through caddytest,
// in front of real upstream HTTP servers on loopback. Each test row names
// the reply its upstream sends; the upstream looks the reply up by path.

import (
	"bytes"
	"compress/zlib"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

const gatewayAddr = "http://127.0.0.1:9080"

// reply is what an upstream sends for one test row.
type reply struct {
	status int
	header map[string]string
	body   string
	coding string        // gzip, deflate, br or zstd: body goes out compressed with this Content-Encoding
	delay  time.Duration // before the status line
	// chunked sends the body without Content-Length, in two flushed writes
	chunked bool
}

var (
	upstream    *httptest.Server
	upstream2   *httptest.Server // a second upstream with the same replies
	h2cUpstream *httptest.Server // the same replies over h2c (and HTTP/1.1)
	grpcAddr    string           // a gRPC server with the health service, h2c
	closedAddr  string           // a loopback port nothing listens on
	logFile     string           // Caddy's log, as JSON lines
	accessLog   string           // the access log of the forensics site
	repliesMu   sync.Mutex
	replies     = map[string]reply{}
	specials    = map[string]http.HandlerFunc{}
)

func TestMain(m *testing.M) {
	runCaddyIfAsked()
	upstream = httptest.NewServer(http.HandlerFunc(serveReply))
	upstream2 = httptest.NewServer(http.HandlerFunc(serveReply))
	h2cUpstream = httptest.NewUnstartedServer(http.HandlerFunc(serveReply))
	h2cUpstream.Config.Protocols = new(http.Protocols)
	h2cUpstream.Config.Protocols.SetHTTP1(true)
	h2cUpstream.Config.Protocols.SetUnencryptedHTTP2(true)
	h2cUpstream.Start()
	grpcAddr = startGRPCUpstream()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	closedAddr = ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp("", "errenvelope-test")
	if err != nil {
		panic(err)
	}
	logFile = dir + "/caddy.log"
	accessLog = dir + "/access.log"
	code := m.Run()
	upstream.Close()
	upstream2.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serveReply answers /r/<name> with the reply registered under name, and
// /s/<name> with the handler registered by special.
func serveReply(w http.ResponseWriter, r *http.Request) {
	if name, ok := strings.CutPrefix(r.URL.Path, "/s/"); ok {
		repliesMu.Lock()
		fn := specials[name]
		repliesMu.Unlock()
		if fn == nil {
			http.Error(w, "test upstream: no handler named "+name, http.StatusTeapot)
			return
		}
		fn(w, r)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/r/")
	repliesMu.Lock()
	rep, ok := replies[name]
	repliesMu.Unlock()
	if !ok {
		http.Error(w, "test upstream: no reply named "+name, http.StatusTeapot)
		return
	}
	if rep.delay > 0 {
		select {
		case <-time.After(rep.delay):
		case <-r.Context().Done():
			return
		}
	}
	body := []byte(rep.body)
	if rep.coding != "" {
		body = compress(rep.coding, body)
		w.Header().Set("Content-Encoding", rep.coding)
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if _, set := rep.header["Content-Length"]; !set && !rep.chunked {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	}
	if rep.header["Content-Type"] == "none" {
		w.Header()["Content-Type"] = nil // no Content-Type at all, not even sniffed
	}
	w.WriteHeader(rep.status)
	if rep.chunked && len(body) > 1 {
		_, _ = w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		body = body[len(body)/2:]
	}
	_, _ = w.Write(body)
}

// path registers rep under a name derived from the row's name and returns
// the upstream path that serves it.
func path(name string, rep reply) string {
	key := strings.NewReplacer(" ", "-", "/", "-", "?", "", "#", "").Replace(strings.TrimPrefix(name, "/"))
	repliesMu.Lock()
	replies[key] = rep
	repliesMu.Unlock()
	return "/r/" + key
}

// special registers an upstream handler for behaviour a reply cannot
// describe (streams, upgrades, broken connections) and returns its path.
func special(name string, fn http.HandlerFunc) string {
	repliesMu.Lock()
	specials[name] = fn
	repliesMu.Unlock()
	return "/s/" + name
}

func compress(coding string, body []byte) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		w, _ = zstd.NewWriter(&buf)
	default:
		return body // an unknown coding: sent as is, labelled anyway
	}
	_, _ = w.Write(body)
	_ = w.Close()
	return buf.Bytes()
}

// gatewayConfig is the Caddyfile every integration test runs: one route
// per handler configuration under test, named by its path prefix.
const gatewayConfig = `{
	skip_install_trust
	admin localhost:2999
	http_port 9080
	https_port 9443
	grace_period 1ns
	metrics
	log {
		output file LOGFILE
		format json
		level DEBUG
	}
}

(mapped) {
	error_envelope {
		map_code FST_ERR_VALIDATION IAM.0011 "Request body is invalid."
		map_code NOT_FOUND APIG.0404
		map_code invalid_grant IAM.0103 "Token refresh failed."
		map_code ResourceNotFoundException APIG.0102 "Resource not found."
		map_status 4xx APIG.0400
		map_status 404 APIG.0101 "API not found."
		map_status 429 APIG.0308 "Too many requests."
		map_status 410-419 APIG.0410
		map_status 415-424 APIG.0415
		map_status 5xx APIG.0200
		map_status 502 APIG.0201 "Backend unavailable."
		map_status 504 APIG.0201 "Backend timeout."
	}
}

http://127.0.0.1:9080 {
	handle_path /default/* {
		error_envelope
		reverse_proxy UPSTREAM
	}
	handle_path /mapped/* {
		import mapped
		reverse_proxy UPSTREAM
	}
	handle_path /mapped-down/* {
		import mapped
		reverse_proxy CLOSED
	}
	handle_path /mapped-slow/* {
		import mapped
		reverse_proxy UPSTREAM {
			transport http {
				response_header_timeout 300ms
			}
		}
	}
	handle_path /pattern/* {
		error_envelope {
			code_pattern ^[A-Z]+\.\d{4}$
		}
		reverse_proxy UPSTREAM
	}
	handle_path /msg5xx/* {
		error_envelope {
			upstream_message 5xx
		}
		reverse_proxy UPSTREAM
	}
	handle_path /msgall/* {
		error_envelope {
			upstream_message all
		}
		reverse_proxy UPSTREAM
	}
	handle_path /msgnone/* {
		error_envelope {
			upstream_message none
		}
		reverse_proxy UPSTREAM
	}
	handle_path /rid/* {
		error_envelope {
			request_id
			map_status 404 GATEWAY.0404 "No route for {http.request.method} {http.request.uri.path}."
			field path {http.request.uri.path}
			field service orders
		}
		reverse_proxy UPSTREAM
	}
	handle_path /rid-down/* {
		error_envelope {
			request_id
		}
		reverse_proxy CLOSED
	}
	handle_path /rid-preset-down/* {
		header X-Request-Id preset-7
		error_envelope {
			request_id
		}
		reverse_proxy CLOSED
	}
	handle_path /auth/* {
		route {
			error_envelope
			basic_auth {
				alice $2a$14$zGn1AyDVr.ite1cdhkXC1OAr7cnj9nahzg24.1N5vs1BBwNo452Le
			}
			reverse_proxy UPSTREAM
		}
	}
	handle_path /small/* {
		error_envelope {
			max_body 1KiB
			max_message 16
			upstream_message all
		}
		reverse_proxy UPSTREAM
	}
	handle_path /down/* {
		error_envelope
		reverse_proxy CLOSED
	}
	# Scrubbing (scrub_test.go): every detector, none, the operator's
	# patterns, and problem details.
	handle_path /scrub-all/* {
		error_envelope {
			scrub credentials addresses traces sql emails paths
		}
		reverse_proxy UPSTREAM
	}
	handle_path /scrub-off/* {
		error_envelope {
			scrub off
		}
		reverse_proxy UPSTREAM
	}
	handle_path /scrub-pattern/* {
		error_envelope {
			scrub_pattern INT-[0-9]{6} [ticket]
			scrub_pattern acct-[0-9]+
		}
		reverse_proxy UPSTREAM
	}
	handle_path /scrub-problem/* {
		error_envelope {
			problem_details on
		}
		reverse_proxy UPSTREAM
	}
	handle_path /edited/* {
		header >Content-Type "charset=utf-8" "charset=UTF-8"
		header >Vary "Accept" "Origin"
		error_envelope {
			problem_details on
		}
		reverse_proxy UPSTREAM
	}
	handle_path /slow/* {
		error_envelope
		reverse_proxy UPSTREAM {
			transport http {
				response_header_timeout 300ms
			}
		}
	}
	handle_path /error/* {
		error_envelope
		error "database at 10.1.2.3:5432 refused the login of admin" 503
	}
	handle_path /respond/* {
		error_envelope
		respond "<html><body><h1>Gone</h1><p>served by respond</p></body></html>" 410
	}
	handle_path /only5xx/* {
		error_envelope {
			statuses 5xx
		}
		reverse_proxy UPSTREAM
	}
	handle_path /report/* {
		error_envelope {
			mode report
		}
		reverse_proxy UPSTREAM
	}
	handle_path /report-down/* {
		error_envelope {
			mode report
		}
		reverse_proxy CLOSED
	}
	handle_path /untouched-down/* {
		error_envelope {
			gateway_errors off
		}
		reverse_proxy CLOSED
	}
	handle_path /encoded/* {
		encode gzip
		error_envelope
		reverse_proxy UPSTREAM
	}
	handle_path /cat/* {
		error_envelope {
			name orders
			catalog testdata/orders.json
			catalog testdata/payments.yaml
			map_status 404 ORD.0404
			map_status 410 HANDLER.0410 "Handler line."
			map_status 420-429 HANDLER.0420 "Handler range."
			map_code DUP_UP HANDLER.0001 "Caddyfile map_code wins."
			map_code LEGACY_NF ORD.0404
		}
		reverse_proxy UPSTREAM
	}
	handle_path /cat-down/* {
		error_envelope {
			catalog testdata/orders.json
		}
		reverse_proxy CLOSED
	}
	handle_path /cat-strict/* {
		error_envelope {
			catalog testdata/orders.json
			unknown_codes rewrite
		}
		reverse_proxy UPSTREAM
	}
	handle_path /rid-client/* {
		map {http.request.header.X-Request-Id} {request_id} {
			~^[A-Za-z0-9._:-]{1,128}$ "${0}"
			default {http.request.uuid}
		}
		request_header X-Request-Id {request_id}
		header X-Request-Id {request_id}
		error_envelope {
			request_id {request_id}
		}
		reverse_proxy UPSTREAM {
			header_down -X-Request-Id
		}
	}
	handle_path /problem/* {
		error_envelope {
			problem_details on
			catalog testdata/orders.json
			request_id
			field service orders
		}
		reverse_proxy UPSTREAM
	}
	handle_path /problem-down/* {
		error_envelope {
			problem_details on
		}
		reverse_proxy CLOSED
	}
	handle_path /keepall/* {
		error_envelope {
			keep_body 256KiB
		}
		reverse_proxy UPSTREAM
	}
	handle_path /apig/* {
		error_envelope {
			catalog catalogs/apig.json
		}
		reverse_proxy UPSTREAM
	}
	handle_path /apig-down/* {
		error_envelope {
			catalog catalogs/apig.json
		}
		reverse_proxy CLOSED
	}
	handle_path /apig-slow/* {
		error_envelope {
			catalog catalogs/apig.json
		}
		reverse_proxy UPSTREAM {
			transport http {
				response_header_timeout 300ms
			}
		}
	}
	# Docs by execution (contract_test.go): each handler's export is
	# compared with what it sends, status by status.
	handle_path /diff-full/* {
		error_envelope {
			name diff-full
			catalog testdata/orders.json
			catalog testdata/payments.yaml
			map_status 410 HANDLER.0410 "Handler line."
			map_status 420-428 HANDLER.0420
			map_code DUP_UP HANDLER.0001 "Caddyfile map_code wins."
			map_code LEGACY_NF ORD.0404
			map_code LEGACY_BAD ORD.0001
			request_id
			field service orders
			problem_details on
			type_base https://api.example.com/errors
		}
		reverse_proxy UPSTREAM
	}
	handle_path /diff-legacy/* {
		error_envelope {
			name diff-legacy
			statuses 4xx 500-503
			code_prefix LEG
			code_pattern ^[A-Z]+\.\d{4}$
			upstream_message 5xx
			map_status 404 LEG.0001 "Not here."
			map_status 500-503 LEG.0500
			map_code E_AUTH LEG.0401 "Sign in again."
			map_code E_PLAIN LEG.0402
			problem_details on
		}
		reverse_proxy UPSTREAM
	}
	handle_path /diff-strict/* {
		error_envelope {
			name diff-strict
			catalog testdata/orders.json
			unknown_codes rewrite
			upstream_message all
		}
		reverse_proxy UPSTREAM
	}
	handle_path /diff-none/* {
		error_envelope {
			name diff-none
			statuses 400-499 502-504
			upstream_message none
			max_message 16
			catalog testdata/payments.yaml
			map_status 5xx APIG.0500 "  The backend   service failed. "
			map_code X_ONE APIG.0001
		}
		reverse_proxy UPSTREAM
	}
	handle_path /diff-multi/* {
		error_envelope {
			name diff-multi
			catalog testdata/multi.json
			map_status 502-504 APIG.0201
			map_code UP_GATEWAY APIG.0201
			map_code UP_ROUTE APIG.0101
			problem_details on
		}
		reverse_proxy UPSTREAM
	}
	handle_errors {
		respond "handle_errors saw {err.status_code}" {err.status_code}
	}
}

# Protocols: HTTP/2 and HTTP/3 over TLS, an h2c upstream, gRPC.
https://127.0.0.1:9443 {
	tls internal
	@down header X-Route down
	@slow header X-Route slow
	@html header X-Route html
	@envelope header_regexp X-Route ^(envelope|percent|notfound|leaky|trace|busy|unavailable|unavailable-date)$
	@l10n header X-Handler l10n
	route /grpc.health.v1.Health/* {
		# A catalog in two languages, without request_id or fields.
		route @l10n {
			error_envelope {
				catalog testdata/grpc.yaml
			}
			rewrite @envelope /r/grpc-{http.request.header.X-Route}
			reverse_proxy @down h2c://CLOSED
			reverse_proxy @envelope UPSTREAM
		}
		error_envelope {
			request_id
			field service health
			field path {http.request.uri.path}
		}
		rewrite @html /r/grpc-html
		rewrite @slow /r/grpc-slow
		rewrite @envelope /r/grpc-{http.request.header.X-Route}
		reverse_proxy @down h2c://CLOSED
		reverse_proxy @slow UPSTREAM {
			transport http {
				response_header_timeout 300ms
			}
		}
		reverse_proxy @html UPSTREAM
		reverse_proxy @envelope UPSTREAM
		reverse_proxy h2c://GRPCUPSTREAM
	}
	handle_path /default/* {
		error_envelope
		reverse_proxy UPSTREAM
	}
	handle_path /h2c/* {
		error_envelope
		reverse_proxy h2c://H2CUPSTREAM
	}
	handle_path /down/* {
		error_envelope
		reverse_proxy CLOSED
	}
}

# Rollout forensics: two named handlers in front of two upstreams each,
# an access log with the handler's placeholders appended.
http://127.0.0.1:9081 {
	log {
		output file ACCESSLOG
		format json
	}
	log_append outcome {http.error_envelope.outcome}
	log_append reason {http.error_envelope.reason}
	log_append error_code {http.error_envelope.error_code}
	log_append upstream_body {http.error_envelope.upstream_body}
	log_append scrubbed {http.error_envelope.scrubbed}
	@two header X-Upstream two
	@down header X-Upstream down
	handle_path /alpha/* {
		header >X-Envelope-Outcome {http.error_envelope.outcome}
		error_envelope {
			name alpha
			max_body 1KiB
			keep_body 64
		}
		reverse_proxy @two UPSTREAM2
		reverse_proxy @down CLOSED
		reverse_proxy UPSTREAM
	}
	handle_path /beta/* {
		error_envelope {
			name beta
			mode report
			keep_body 64
		}
		reverse_proxy @two UPSTREAM2
		reverse_proxy UPSTREAM
	}
	handle_path /nokeep/* {
		error_envelope {
			name nokeep
		}
		reverse_proxy UPSTREAM
	}
	handle_path /dyn/* {
		error_envelope {
			name dyn
		}
		reverse_proxy {http.request.header.X-Backend}
	}
}
`

// gatewayConfigFor fills in the test's addresses and files.
func gatewayConfigFor() string {
	return strings.NewReplacer("UPSTREAM2", upstream2.Listener.Addr().String(), "UPSTREAM", upstream.Listener.Addr().String(),
		"H2CUPSTREAM", h2cUpstream.Listener.Addr().String(), "GRPCUPSTREAM", grpcAddr,
		"CLOSED", closedAddr, "LOGFILE", logFile, "ACCESSLOG", accessLog).Replace(gatewayConfig)
}

// startGateway loads the gateway configuration into the in-process Caddy.
//
// The configuration is loaded once per test binary, by the first test
// that needs it; every later test finds it running. (Reloading the same
// configuration for every test only adds load time, and caddytest's check
// that a reload took can time out on a busy machine.)
func startGateway(t *testing.T) {
	t.Helper()
	gatewayOnce.Do(func() {
		tester := caddytest.NewTester(t)
		// caddytest skips a test whose Caddy cannot start; here that is a failure.
		t.Cleanup(func() {
			if t.Skipped() {
				t.Errorf("the in-process Caddy did not start")
			}
		})
		tester.InitServer(gatewayConfigFor(), "caddyfile")
		gatewayUp = !t.Failed()
	})
	if !gatewayUp {
		t.Fatal("the in-process Caddy did not start with the test configuration")
	}
}

var (
	gatewayOnce sync.Once
	gatewayUp   bool
)

// client talks to the gateway without transparent decompression, so
// tests see the headers and bytes that Caddy sent.
var client = &http.Client{
	Transport: &http.Transport{DisableCompression: true, DisableKeepAlives: false},
	Timeout:   10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// row is one integration case: a request through a route of the gateway,
// the reply of its upstream, and what the client must get.
type row struct {
	name   string
	route  string // path prefix of the gateway route, e.g. "/default"
	method string // GET when empty
	header map[string]string
	reply  reply

	wantStatus int
	wantBody   string            // exact body
	wantHeader map[string]string // "" means the header must be absent
	// the body is a rewritten envelope: also check its Content-Type and
	// Content-Length and decode it strictly
	envelope bool
	// members the strict decode must find besides error_msg and error_code
	extraMembers []string
}

func (rw row) run(t *testing.T) {
	t.Helper()
	method := rw.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, gatewayAddr+rw.route+path(rw.route+"-"+rw.name, rw.reply), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range rw.header {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != rw.wantStatus {
		t.Errorf("status = %d, want %d", res.StatusCode, rw.wantStatus)
	}
	if string(body) != rw.wantBody {
		t.Errorf("body =\n%q\nwant\n%q", body, rw.wantBody)
	}
	for k, v := range rw.wantHeader {
		if got := res.Header.Values(k); v == "" && len(got) > 0 {
			t.Errorf("header %s = %q, want it absent", k, got)
		} else if v != "" && strings.Join(got, ", ") != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if rw.envelope {
		if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("Content-Type = %q, want application/json; charset=utf-8", ct)
		}
		if ce := res.Header.Get("Content-Encoding"); ce != "" {
			t.Errorf("Content-Encoding = %q on a rewritten envelope", ce)
		}
		wantLen := len(rw.wantBody)
		if method != http.MethodHead {
			members := checkEnvelope(t, body, rw.extraMembers...)
			checkSDKReads(t, res, body, members)
		} else {
			wantLen = -1 // checked by the row's own wantHeader
		}
		if wantLen >= 0 && res.Header.Get("Content-Length") != fmt.Sprint(wantLen) {
			t.Errorf("Content-Length = %q, want %d", res.Header.Get("Content-Length"), wantLen)
		}
	}
}

// checkEnvelope decodes body strictly: one JSON object, nothing after it,
// error_msg and error_code non-empty strings, and exactly the members
// named besides them, all strings.
func checkEnvelope(t *testing.T, body []byte, extra ...string) map[string]string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var members map[string]any
	if err := dec.Decode(&members); err != nil {
		t.Fatalf("envelope %q does not decode: %v", body, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("envelope %q has bytes after the object", body)
	}
	want := append([]string{"error_msg", "error_code"}, extra...)
	if len(members) != len(want) {
		t.Fatalf("envelope %q has members %v, want exactly %v", body, slices.Collect(maps.Keys(members)), want)
	}
	out := map[string]string{}
	for _, k := range want {
		s, ok := members[k].(string)
		if !ok {
			t.Fatalf("envelope %q: member %s is %T, want a string", body, k, members[k])
		}
		if (k == "error_msg" || k == "error_code") && s == "" {
			t.Fatalf("envelope %q: %s is empty", body, k)
		}
		out[k] = s
	}
	return out
}

// env is the exact envelope this handler writes for msg and code.
func env(msg, code string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(struct {
		Msg  string `json:"error_msg"`
		Code string `json:"error_code"`
	}{msg, code})
	return strings.TrimSuffix(buf.String(), "\n")
}

// get fetches a gateway path and returns the response and its body.
func get(t *testing.T, p string) (*http.Response, []byte) {
	t.Helper()
	return getWith(t, p, nil)
}
