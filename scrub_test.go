package errenvelope

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// allDetectors turns every detector on.
var allDetectors = []string{"credentials", "addresses", "traces", "sql", "emails", "paths"}

func mustScrubber(t testing.TB, names []string, patterns ...ScrubPattern) scrubber {
	t.Helper()
	s, err := compileScrub(names, patterns)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestScrubTable: every row of the table, through the scrubber alone.
func TestScrubTable(t *testing.T) {
	def := mustScrubber(t, nil)
	all := mustScrubber(t, allDetectors)
	check := func(s scrubber, c scrubCase) {
		t.Helper()
		got, found := s.scrub(c.in, s.on)
		if got != c.want {
			t.Errorf("scrub(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
		switch {
		case c.leak && found&c.det == 0:
			t.Errorf("scrub(%q): found %v, want %s among them", c.in, scrubNames[found], scrubNames[c.det])
		case !c.leak && found != 0:
			t.Errorf("scrub(%q): found %v in a look-alike", c.in, scrubNames[found])
		}
	}
	for _, c := range scrubCases {
		check(def, c)
	}
	for _, c := range scrubOptCases {
		check(all, c)
	}
}

// TestScrubTableThroughCaddy: every row of the table as a client sees it,
// through a real Caddy in front of a real upstream: the upstream answers
// 400 with the row's text as its JSON message, and the client reads the
// envelope with the text scrubbed, or with the status's own message when
// the text is withheld.
func TestScrubTableThroughCaddy(t *testing.T) {
	startGateway(t)
	run := func(route string, i int, c scrubCase) {
		body, err := json.Marshal(map[string]string{"message": c.in})
		if err != nil {
			t.Fatal(err)
		}
		want := c.want
		if want == "" {
			want = "Bad Request"
		}
		t.Run(fmt.Sprintf("%s %d", scrubList[c.det], i), func(t *testing.T) {
			row{name: fmt.Sprintf("scrub-%d", i), route: route,
				reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: string(body)},
				wantStatus: 400, wantBody: env(want, "GATEWAY.0400"), envelope: true}.run(t)
		})
	}
	for i, c := range scrubCases {
		run("/default", i, c)
	}
	for i, c := range scrubOptCases {
		run("/scrub-all", i, c)
	}
}

// TestScrubLeaksThroughCaddy: the leaks a client received before scrubbing,
// in the shapes their upstreams sent them, and how each option changes
// what a client reads.
func TestScrubLeaksThroughCaddy(t *testing.T) {
	startGateway(t)
	const dsn = `invalid credentials for postgres://app:s3cr3t@users-db.default.svc.cluster.local:5432/app`
	conforming := `{"error_msg":"` + dsn + `","error_code":"DB.0400"}`
	before := scrapeCounters(t)
	rows := []row{
		{name: "go url error with a key and an internal address", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"message":"Get \"https://api.maps.example.com/v1/geo?key=AIzaSyA1234567890abcdefghijklmnopqrstuv\": dial tcp 10.0.0.5:443: i/o timeout"}`},
			wantStatus: 400, wantBody: env(`Get "https://api.maps.example.com/v1/geo?key=[REDACTED]": dial tcp [REDACTED]: i/o timeout`, "GATEWAY.0400"), envelope: true},
		{name: "conforming envelope with a password is rewritten with its own code", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: conforming},
			wantStatus: 400, wantBody: env(`invalid credentials for postgres://app:[REDACTED]@[REDACTED]/app`, "DB.0400"), envelope: true},
		{name: "echoed jwt", route: "/default",
			reply:      reply{status: 401, header: h("Content-Type", ctJSON, "WWW-Authenticate", `Bearer realm="api"`), body: `{"detail":"Authorization header Bearer ` + jwt + ` rejected"}`},
			wantStatus: 401, wantBody: env("Authorization header Bearer [REDACTED] rejected", "GATEWAY.0401"), envelope: true,
			wantHeader: h("WWW-Authenticate", `Bearer realm="api"`)},
		{name: "sql error is withheld", route: "/default",
			reply:      reply{status: 409, header: h("Content-Type", ctJSON), body: `{"message":"ERROR: duplicate key value violates unique constraint \"users_email_key\" (SQLSTATE 23505)"}`},
			wantStatus: 409, wantBody: env("Conflict", "GATEWAY.0409"), envelope: true},
		{name: "stack frame is withheld", route: "/default",
			reply:      reply{status: 422, header: h("Content-Type", ctJSON), body: `{"message":"NullPointerException at com.example.OrderService.load(OrderService.java:42)"}`},
			wantStatus: 422, wantBody: env("Unprocessable Entity", "GATEWAY.0422"), envelope: true},
		{name: "text/plain message is scrubbed too", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctText), body: "dial tcp [fd00::1]:5432: connect: connection refused\n"},
			wantStatus: 400, wantBody: env("dial tcp [REDACTED]: connect: connection refused", "GATEWAY.0400"), envelope: true},
		{name: "gzip-encoded envelope is scrubbed decoded", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: conforming, coding: "gzip"},
			header:     h("Accept-Encoding", "gzip"),
			wantStatus: 400, wantBody: env(`invalid credentials for postgres://app:[REDACTED]@[REDACTED]/app`, "DB.0400"), envelope: true},
		// A withheld envelope message gives way to its code's message (§4
		// steps 3–4): here the catalog's.
		{name: "conforming envelope with sql takes its code's catalog message", route: "/cat",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"error_msg":"pq: relation \"orders\" does not exist","error_code":"ORD.4000"}`},
			wantStatus: 400, wantBody: env("Bad order request.", "ORD.4000"), envelope: true},
		{name: "a clean conforming envelope still passes byte for byte", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"error_msg":"Token expired.", "error_code":"IAM.0002"}`},
			wantStatus: 400, wantBody: `{"error_msg":"Token expired.", "error_code":"IAM.0002"}`},
		// scrub off: the operator's choice, everything as before.
		{name: "scrub off passes the envelope as it came", route: "/scrub-off",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: conforming},
			wantStatus: 400, wantBody: conforming},
		{name: "scrub off keeps the upstream message", route: "/scrub-off",
			reply:      reply{status: 422, header: h("Content-Type", ctJSON), body: `{"message":"NullPointerException at com.example.OrderService.load(OrderService.java:42)"}`},
			wantStatus: 422, wantBody: env("NullPointerException at com.example.OrderService.load(OrderService.java:42)", "GATEWAY.0422"), envelope: true},
		{name: "operator patterns with and without a mark", route: "/scrub-pattern",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"message":"ticket INT-123456 for acct-991 from 10.0.0.5 failed"}`},
			wantStatus: 400, wantBody: env("ticket [ticket] for [REDACTED] from [REDACTED] failed", "GATEWAY.0400"), envelope: true},
		// A secret past max_message is gone before the cut: nothing of it
		// is left at the end of the cut message.
		{name: "a secret across the cut leaves nothing", route: "/small",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"message":"bad key AKIAIOSFODNN7EXAMPLE here"}`},
			wantStatus: 400, wantBody: env("bad key [REDACTE", "GATEWAY.0400"), envelope: true},
	}
	for _, rw := range rows {
		t.Run(rw.name, rw.run)
	}
	after := scrapeCounters(t)
	if got := after["rewritten/scrubbed"] - before["rewritten/scrubbed"]; got != 3 {
		t.Errorf("rewritten/scrubbed grew by %v, want 3 (the conforming envelopes with a find)", got)
	}
}

// TestScrubProblemDetails: a problem-details client gets the scrubbed
// message in detail and error_msg, from a conforming problem.
func TestScrubProblemDetails(t *testing.T) {
	startGateway(t)
	in := `{"type":"about:blank","title":"Bad Request","status":400,"detail":"bad token sk_live_FAKE00000000000000001234","error_msg":"bad token sk_live_FAKE00000000000000001234","error_code":"PAY.0400"}`
	res, body := getWith(t, "/scrub-problem"+path("scrub-problem", reply{status: 400, header: h("Content-Type", problemType), body: in}), h("Accept", problemType))
	want := `{"type":"about:blank","title":"Bad Request","status":400,"detail":"bad token [REDACTED]","error_msg":"bad token [REDACTED]","error_code":"PAY.0400"}`
	if res.StatusCode != 400 || string(body) != want || res.Header.Get("Content-Type") != problemType {
		t.Errorf("got %d %s %s\nwant 400 %s", res.StatusCode, res.Header.Get("Content-Type"), body, want)
	}
	// A detail that says more than error_msg is scrubbed too: the problem
	// is rewritten with error_msg as its detail.
	in = `{"type":"about:blank","title":"Bad Request","status":400,"detail":"no row in users at 10.0.0.5:5432","error_msg":"Bad input.","error_code":"PAY.0400"}`
	res, body = getWith(t, "/scrub-problem"+path("scrub-problem-detail", reply{status: 400, header: h("Content-Type", problemType), body: in}), h("Accept", problemType))
	want = `{"type":"about:blank","title":"Bad Request","status":400,"detail":"Bad input.","error_msg":"Bad input.","error_code":"PAY.0400"}`
	if res.StatusCode != 400 || string(body) != want {
		t.Errorf("got %d %s\nwant 400 %s", res.StatusCode, body, want)
	}
}

// TestScrubReportMode: report mode changes no byte of a leaking envelope,
// and its log line says what a rewrite would scrub.
func TestScrubReportMode(t *testing.T) {
	startGateway(t)
	in := `{"error_msg":"login as admin:hunter2@10.0.0.5 failed password=hunter2","error_code":"DB.0401"}`
	p := "/report" + path("scrub-report", reply{status: 401, header: h("Content-Type", ctJSON), body: in})
	res, body := get(t, p)
	if res.StatusCode != 401 || string(body) != in {
		t.Fatalf("report mode changed the response: %d %s", res.StatusCode, body)
	}
	e := handlerLogEntry(t, strings.TrimPrefix(p, "/report"))
	if e["reason"] != "scrubbed" || e["outcome"] != "reported" || e["msg"] != "would rewrite error response" {
		t.Errorf("log line %v: want outcome reported, reason scrubbed", e)
	}
	if got := fmt.Sprint(e["scrubbed"]); got != "[credentials addresses]" {
		t.Errorf("log field scrubbed = %s, want [credentials addresses]", got)
	}
}

// handlerLogEntry finds this handler's log line about a request URI in
// Caddy's log.
func handlerLogEntry(t *testing.T, uri string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		data, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			var e map[string]any
			if json.Unmarshal([]byte(line), &e) == nil && e["uri"] == uri && strings.Contains(fmt.Sprint(e["logger"]), "error_envelope") {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no error_envelope log line for %s", uri)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestScrubForensics: what was scrubbed reaches the access log through
// log_append and the counter by route, upstream and detector; keep_body's
// text keeps the address support needs and loses the password.
func TestScrubForensics(t *testing.T) {
	startGateway(t)
	before := scrapeFamily(t, "caddy_http_error_envelope_scrubbed_total")
	body := `{"message":"password=hunter2 from 10.0.0.5"}`
	res, got, uri := forensicGet(t, "/alpha", "scrubbed", reply{status: 400, header: h("Content-Type", ctJSON), body: body}, nil)
	if want := env("password=[REDACTED] from [REDACTED]", "GATEWAY.0400"); res.StatusCode != 400 || got != want {
		t.Fatalf("client got %d %s, want 400 %s", res.StatusCode, got, want)
	}
	e := accessEntry(t, uri)
	if e["scrubbed"] != "credentials,addresses" {
		t.Errorf("access log scrubbed = %v, want credentials,addresses", e["scrubbed"])
	}
	if want := `{"message":"password=[REDACTED] from 10.0.0.5"}`; e["upstream_body"] != want {
		t.Errorf("access log upstream_body = %v, want %s", e["upstream_body"], want)
	}
	// A response with nothing scrubbed logs the placeholder empty.
	_, _, clean := forensicGet(t, "/alpha", "clean", reply{status: 400, header: h("Content-Type", ctJSON), body: `{"message":"Field required"}`}, nil)
	if e := accessEntry(t, clean); e["scrubbed"] != "" {
		t.Errorf("access log scrubbed = %v for a clean message, want empty", e["scrubbed"])
	}
	after := scrapeFamily(t, "caddy_http_error_envelope_scrubbed_total")
	up := upstream.Listener.Addr().String()
	for _, det := range []string{"credentials", "addresses"} {
		want := map[string]string{"route": "alpha", "upstream": up, "detector": det}
		if d := countBy(after, want)[""] - countBy(before, want)[""]; d != 1 {
			t.Errorf("scrubbed_total%v grew by %v, want 1", want, d)
		}
	}
	if d := countBy(after, map[string]string{"route": "alpha", "detector": "sql"})[""] - countBy(before, map[string]string{"route": "alpha", "detector": "sql"})[""]; d != 0 {
		t.Errorf("scrubbed_total{detector=sql} grew by %v, want 0", d)
	}
}

// plantedSecrets are secrets of every shape the detectors find, each as
// planted in a text and the part of it that must not survive.
var plantedSecrets = []struct{ text, secret string }{
	{"AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"},
	{"AIzaSyA1234567890abcdefghijklmnopqrstuv", "AIzaSyA1234567890abcdefghijklmnopqrstuv"},
	{"sk_live_FAKE00000000000000001234", "sk_live_FAKE00000000000000001234"},
	{"ghp_FAKE0000000000000000000000000000TEST", "ghp_FAKE0000000000000000000000000000TEST"},
	{"xoxb-1234567890-1234567890123-AbCdEfGhIjKl", "xoxb-1234567890-1234567890123-AbCdEfGhIjKl"},
	{"glpat-xxxxXXXX1234yyyyZZZZ", "glpat-xxxxXXXX1234yyyyZZZZ"},
	{"Bearer " + jwt, jwt},
	{"Basic YWxhZGRpbjpvcGVuc2VzYW1l", "YWxhZGRpbjpvcGVuc2VzYW1l"},
	{"password=Hunter2Secret99", "Hunter2Secret99"},
	{"?key=QWERTYuiop123456", "QWERTYuiop123456"},
	{`"client_secret":"abcXYZ123secretvalue"`, "abcXYZ123secretvalue"},
	{"postgres://app:S3cretPassw0rd@db:5432/app", "S3cretPassw0rd"},
	{"-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq8Jm3x2nQzABCDEF\n-----END RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA7bq8Jm3x2nQzABCDEF"},
	{"dial tcp 10.20.30.40:5432", "10.20.30.40:5432"},
	{"[fd12:3456:789a::17]:8443", "fd12:3456:789a::17"},
	{"users-db.default.svc.cluster.local:5432", "users-db.default.svc.cluster.local"},
	{"ops-team@example.com", "ops-team@example.com"},
	{"/home/deploy/.ssh/id_rsa", "/home/deploy/.ssh/id_rsa"},
}

// FuzzScrub: random text, and random text around planted secrets of every
// shape, through every detector. Scrubbing never panics, never returns
// invalid UTF-8, never returns more than its input and the marks, and
// leaves no run of 8 characters of a planted secret.
func FuzzScrub(f *testing.F) {
	// Seeds: every eighth row of the table (each row is checked in full by
	// TestScrubTable; a short fuzzing run spends its time mutating).
	for i, c := range append(append([]scrubCase{}, scrubCases...), scrubOptCases...) {
		if i%8 == 0 {
			f.Add(c.in, "", uint8(i))
		}
	}
	f.Add("\"password\":\"", "\xff\x00 nested \"quotes\\\" ", uint8(3))
	f.Add(strings.Repeat("eyJ-", 50), strings.Repeat("::", 40), uint8(9))
	s := mustScrubber(f, allDetectors, ScrubPattern{Pattern: "INT-[0-9]{6}"})
	f.Fuzz(func(t *testing.T, before, after string, pick uint8) {
		for _, text := range []string{before + after, before + " " + plantedSecrets[int(pick)%len(plantedSecrets)].text + " " + after} {
			out, _ := s.scrub(text, s.on)
			if !utf8.ValidString(out) {
				t.Fatalf("scrub(%q) = %q: invalid UTF-8", text, out)
			}
			valid := strings.ToValidUTF8(text, "\uFFFD")
			// The marks may stand for less than they replace, never add more.
			if marks := strings.Count(out, redactionMark) + strings.Count(out, "[REDACTED]"); len(out) > len(valid)+marks*len(redactionMark) {
				t.Fatalf("scrub(%q) = %q: longer than its input and its %d marks", text, out, marks)
			}
		}
		planted := plantedSecrets[int(pick)%len(plantedSecrets)]
		out, _ := s.scrub(before+" "+planted.text+" "+after, s.on)
		for i := 0; i+8 <= len(planted.secret); i++ {
			if run := planted.secret[i : i+8]; strings.Contains(out, run) && !strings.Contains(before+after, run) {
				t.Fatalf("scrub left %q of the planted secret %q in %q", run, planted.secret, out)
			}
		}
	})
}

// TestScrubHostileText: floods of secrets and of their shapes, invalid
// UTF-8, NUL and nested quotes reach the client as valid JSON with no
// part of a secret, cut to max_message.
func TestScrubHostileText(t *testing.T) {
	startGateway(t)
	for name, msg := range map[string]string{
		"a flood of passwords":      strings.Repeat("password=hunter2 ", 20000),
		"a flood of keys":           strings.Repeat("AKIAIOSFODNN7EXAMPLE,", 20000),
		"a flood of half urls":      strings.Repeat("postgres://app:hunter2", 20000),
		"nested quotes":             strings.Repeat(`{\"password\":\"hunter2 {\"token\":\"`, 5000),
		"invalid utf-8 and nul":     "bad \xff\xfe\x00 password=hunter2\x00 key \xc3",
		"an unterminated pem block": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + strings.Repeat("hunter2", 20000),
		"addresses without end":     strings.Repeat("10.0.0.5:5432 [fd00::1]:1 ::1:1 x.svc:1 ", 5000),
	} {
		t.Run(name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"message": msg})
			res, got := get(t, "/default"+path("scrub-hostile-"+name, reply{status: 400, header: h("Content-Type", ctJSON), body: string(body)}))
			if res.StatusCode != 400 {
				t.Fatalf("status %d", res.StatusCode)
			}
			env := checkEnvelope(t, got)
			for _, secret := range []string{"hunter2", "AKIAIOSFODNN7EXAMPLE", "10.0.0.5", "fd00::1", "x.svc"} {
				if strings.Contains(env["error_msg"], secret) {
					t.Errorf("error_msg %q holds %q", env["error_msg"], secret)
				}
			}
			if n := utf8.RuneCountInString(env["error_msg"]); n > 512 {
				t.Errorf("error_msg has %d characters, over max_message", n)
			}
		})
	}
}

// TestScrubKeptText: keep_body's text loses its credentials whichever
// detectors are named (not its addresses), nothing with scrub off but the
// operator's patterns; a key cut by the held bytes of a body over max_body
// goes whole.
func TestScrubKeptText(t *testing.T) {
	body := []byte("login password=hunter2S3cret from 10.0.0.5 ticket INT-123456")
	for _, tt := range []struct {
		scrub []string
		want  string
	}{
		{nil, "login password=[REDACTED] from 10.0.0.5 ticket [ticket]"},
		{[]string{"addresses"}, "login password=[REDACTED] from 10.0.0.5 ticket [ticket]"},
		{[]string{"off"}, "login password=hunter2S3cret from 10.0.0.5 ticket [ticket]"},
	} {
		h := &Handler{KeepBody: 4096, Scrub: tt.scrub, ScrubPatterns: []ScrubPattern{{Pattern: "INT-[0-9]{6}", Mark: "[ticket]"}}}
		if err := h.compile(); err != nil {
			t.Fatal(err)
		}
		if got := h.policy.keptText(http.Header{}, body, body); got != tt.want {
			t.Errorf("scrub %v: kept %q, want %q", tt.scrub, got, tt.want)
		}
	}
	h := &Handler{KeepBody: 40}
	if err := h.compile(); err != nil {
		t.Fatal(err)
	}
	// The 40 bytes held of bodies over max_body.
	for held, want := range map[string]string{
		"upstream said: GITHUB=ghp_FAKE0000000000": "upstream said: GITHUB=",
		"upstream said: the id AKIAIOSFODNN7EXAMP": "upstream said: the id ",
		"<html><p>stack frame at com.example.Api<": "<html><p>stack frame at com.example.Api<",
	} {
		if len(held) != 40 {
			t.Fatalf("held %q is %d bytes, want 40", held, len(held))
		}
		if got := h.policy.keptText(http.Header{}, nil, []byte(held)); got != want {
			t.Errorf("held %q: kept %q, want %q", held, got, want)
		}
	}
}
