package errenvelope

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const forensicsAddr = "http://127.0.0.1:9081"

// forensicGet sends one request through the forensics site and returns
// the response, its body and the request URI the access log names.
func forensicGet(t *testing.T, route, name string, rep reply, hdr map[string]string) (*http.Response, string, string) {
	t.Helper()
	uri := route + path("forensics-"+strings.TrimPrefix(route, "/")+"-"+name, rep)
	req, err := http.NewRequest(http.MethodGet, forensicsAddr+uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body), uri
}

// accessEntry finds the access log line of a request URI.
func accessEntry(t *testing.T, uri string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		f, err := os.Open(accessLog)
		if err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 4<<20)
			for sc.Scan() {
				var e map[string]any
				if json.Unmarshal(sc.Bytes(), &e) != nil {
					continue
				}
				if req, _ := e["request"].(map[string]any); req != nil && req["uri"] == uri {
					f.Close()
					return e
				}
			}
			f.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log line for %s", uri)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestForensicsPlaceholders: each placeholder reaches the access log
// through log_append, for rewritten, passed, gateway and report-mode
// responses, and nothing of the kept body reaches the client.
func TestForensicsPlaceholders(t *testing.T) {
	startGateway(t)
	html := "<html><head><title>502 Bad Gateway</title></head><body>upstream db-7.internal:5432 refused</body></html>"
	big := "<html>" + strings.Repeat("<p>stack frame at com.example.Api</p>", 100) + "</html>" // 3.7 KiB, over alpha's 1 KiB max_body
	tests := []struct {
		name  string
		route string
		rep   reply
		hdr   map[string]string
		// what the client gets
		status   int
		bodyHas  string
		outcome  string
		reason   string
		code     string
		kept     string // upstream_body in the access log; "-" for no field value (null)
		upstream string // expected X-Upstream choice, for the header check
	}{
		{name: "rewritten html keeps the first bytes of the page", route: "/alpha",
			rep:    reply{status: 502, header: h("Content-Type", ctHTML), body: html},
			status: 502, bodyHas: `"error_code":"GATEWAY.0502"`, outcome: "rewritten", reason: "not_json", code: "GATEWAY.0502", kept: html[:64]},
		{name: "gzip body is kept decoded", route: "/alpha",
			rep:    reply{status: 500, header: h("Content-Type", ctHTML), body: html, coding: "gzip"},
			hdr:    h("Accept-Encoding", "gzip"),
			status: 500, bodyHas: `"error_code":"GATEWAY.0500"`, outcome: "rewritten", reason: "not_json", code: "GATEWAY.0500", kept: html[:64]},
		{name: "invalid utf-8 is kept as valid utf-8", route: "/alpha",
			rep:    reply{status: 400, header: h("Content-Type", ctText), body: "bad \xff\xfe byte"},
			status: 400, bodyHas: `"error_code":"GATEWAY.0400"`, outcome: "rewritten", reason: "not_json", code: "GATEWAY.0400", kept: "bad \uFFFD byte"},
		{name: "a character cut by keep_body is left out", route: "/alpha",
			rep:    reply{status: 400, header: h("Content-Type", ctText), body: strings.Repeat("a", 63) + "é and more"},
			status: 400, bodyHas: `"error_code":"GATEWAY.0400"`, outcome: "rewritten", reason: "not_json", code: "GATEWAY.0400", kept: strings.Repeat("a", 63)},
		{name: "body over max_body keeps its first bytes", route: "/alpha",
			rep:    reply{status: 500, header: h("Content-Type", ctHTML), body: big, chunked: true},
			status: 500, bodyHas: `"error_code":"GATEWAY.0500"`, outcome: "rewritten", reason: "too_large", code: "GATEWAY.0500", kept: big[:64]},
		{name: "gzip body that decodes over max_body keeps its first decoded bytes", route: "/alpha",
			rep:    reply{status: 500, header: h("Content-Type", ctHTML), body: big, coding: "gzip"},
			hdr:    h("Accept-Encoding", "gzip"),
			status: 500, bodyHas: `"error_code":"GATEWAY.0500"`, outcome: "rewritten", reason: "too_large", code: "GATEWAY.0500", kept: big[:64]},
		{name: "conforming envelope passes with its code", route: "/alpha",
			rep:    reply{status: 400, header: h("Content-Type", ctJSON), body: exactEnvelope},
			status: 400, bodyHas: exactEnvelope, outcome: "passed", reason: "conforming", code: "IAM.0011", kept: exactEnvelope[:min(64, len(exactEnvelope))]},
		{name: "gateway error keeps no body", route: "/alpha", hdr: h("X-Upstream", "down"),
			status: 502, bodyHas: `"error_code":"GATEWAY.0502"`, outcome: "gateway", reason: "gateway_error", code: "GATEWAY.0502", kept: ""},
		{name: "report mode names the code a rewrite would send", route: "/beta",
			rep:    reply{status: 500, header: h("Content-Type", ctText), body: "db-7 down"},
			status: 500, bodyHas: "db-7 down", outcome: "reported", reason: "not_json", code: "GATEWAY.0500", kept: "db-7 down"},
		{name: "keep_body off keeps nothing", route: "/nokeep",
			rep:    reply{status: 500, header: h("Content-Type", ctText), body: "db-7 down"},
			status: 500, bodyHas: `"error_code":"GATEWAY.0500"`, outcome: "rewritten", reason: "not_json", code: "GATEWAY.0500", kept: ""},
		{name: "a success sets nothing", route: "/alpha",
			rep:    reply{status: 200, header: h("Content-Type", ctJSON), body: `{"ok":true}`},
			status: 200, bodyHas: `{"ok":true}`, kept: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body, uri := forensicGet(t, tt.route, tt.name, tt.rep, tt.hdr)
			if res.StatusCode != tt.status || !strings.Contains(body, tt.bodyHas) {
				t.Fatalf("client got %d %q, want %d with %q", res.StatusCode, body, tt.status, tt.bodyHas)
			}
			if tt.outcome != "reported" && tt.outcome != "passed" && tt.outcome != "" {
				// nothing of what was kept reaches the client
				for k, v := range res.Header {
					if tt.kept != "" && strings.Contains(strings.Join(v, " "), "db-7") {
						t.Errorf("header %s leaks the upstream body: %q", k, v)
					}
				}
				if strings.Contains(body, "db-7") || strings.Contains(body, "stack frame") || strings.Contains(body, "<html") {
					t.Errorf("client body leaks the upstream body: %q", body)
				}
			}
			e := accessEntry(t, uri)
			want := map[string]string{"outcome": tt.outcome, "reason": tt.reason, "error_code": tt.code, "upstream_body": tt.kept}
			for k, v := range want {
				got, present := e[k]
				if tt.outcome == "" {
					if got != nil {
						t.Errorf("access log %s = %q on a success, want null", k, got)
					}
					continue
				}
				if s, _ := got.(string); !present || s != v {
					t.Errorf("access log %s = %#v, want %q", k, got, v)
				}
			}
			if tt.route == "/alpha" && tt.outcome != "" && res.Header.Get("X-Envelope-Outcome") != tt.outcome {
				t.Errorf("header … defer saw outcome %q, want %q", res.Header.Get("X-Envelope-Outcome"), tt.outcome)
			}
		})
	}
}

// series is one line of the error_envelope counter on /metrics.
type series struct {
	labels map[string]string
	value  float64
}

// scrapeSeries reads the error_envelope counter's series from the
// running Caddy's /metrics with Prometheus's own text parser.
func scrapeSeries(t *testing.T) []series {
	t.Helper()
	return scrapeFamily(t, "caddy_http_error_envelope_responses_total")
}

// scrapeFamily reads the series of one counter family from the running
// Caddy's /metrics with Prometheus's own text parser.
func scrapeFamily(t *testing.T, family string) []series {
	t.Helper()
	return scrapeFamilyAt(t, "http://localhost:2999/metrics", family)
}

// scrapeFamilyAt reads the series of one counter or gauge family from a
// /metrics URL.
func scrapeFamilyAt(t *testing.T, url, family string) []series {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	var out []series
	for _, m := range families[family].GetMetric() {
		s := series{labels: map[string]string{}, value: m.GetCounter().GetValue() + m.GetGauge().GetValue()}
		for _, l := range m.GetLabel() {
			s.labels[l.GetName()] = l.GetValue()
		}
		out = append(out, s)
	}
	return out
}

// countBy sums the series whose labels include want, keyed by the label
// values named in by.
func countBy(all []series, want map[string]string, by ...string) map[string]float64 {
	out := map[string]float64{}
next:
	for _, s := range all {
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		var key []string
		for _, b := range by {
			key = append(key, s.labels[b])
		}
		out[strings.Join(key, " ")] += s.value
	}
	return out
}

// TestForensicsMetrics: counts by route, upstream, outcome and reason
// after traffic through two named handlers with two upstreams each.
func TestForensicsMetrics(t *testing.T) {
	startGateway(t)
	one, two := upstream.Listener.Addr().String(), upstream2.Listener.Addr().String()
	before := scrapeSeries(t)
	html := reply{status: 404, header: h("Content-Type", ctHTML), body: expressHTML}
	envelope := reply{status: 400, header: h("Content-Type", ctJSON), body: exactEnvelope}
	send := func(route, up, name string, rep reply, n int) {
		hdr := map[string]string{}
		if up == "two" {
			hdr["X-Upstream"] = "two"
		}
		for i := range n {
			forensicGet(t, route, fmt.Sprintf("%s-%s-%d", up, name, i), rep, hdr)
		}
	}
	send("/alpha", "one", "html", html, 3)
	send("/alpha", "two", "html", html, 2)
	send("/alpha", "two", "envelope", envelope, 4)
	send("/beta", "one", "html", html, 1)
	send("/beta", "two", "envelope", envelope, 5)
	forensicGet(t, "/alpha", "down", reply{}, h("X-Upstream", "down"))
	after := scrapeSeries(t)

	delta := func(route string) map[string]float64 {
		b := countBy(before, map[string]string{"route": route}, "upstream", "outcome", "reason")
		a := countBy(after, map[string]string{"route": route}, "upstream", "outcome", "reason")
		for k, v := range b {
			a[k] -= v
			if a[k] == 0 {
				delete(a, k)
			}
		}
		return a
	}
	want := map[string]map[string]float64{
		"alpha": {
			one + " rewritten not_json": 3,
			two + " rewritten not_json": 2,
			two + " passed conforming":  4,
			" gateway gateway_error":    1, // no upstream answered
		},
		"beta": {
			one + " reported not_json":   1,
			two + " reported conforming": 5,
		},
	}
	for route, w := range want {
		if got := delta(route); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("route %s counted\n%v\nwant\n%v", route, got, w)
		}
	}
}

// TestUpstreamLabelIsBounded: a dynamic set of 105 upstreams gives at
// most 100 upstream label values per handler; the rest count as other.
func TestUpstreamLabelIsBounded(t *testing.T) {
	startGateway(t)
	const n = maxUpstreams + 5
	var backends []*httptest.Server
	for range n {
		backends = append(backends, httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "<h1>boom</h1>")
		})))
	}
	defer func() {
		for _, b := range backends {
			b.Close()
		}
	}()
	before := countBy(scrapeSeries(t), map[string]string{"route": "dyn"}, "upstream")
	for i, b := range backends {
		res, body, _ := forensicGet(t, "/dyn", fmt.Sprint("b", i), reply{}, h("X-Backend", b.Listener.Addr().String()))
		if res.StatusCode != 500 || body != env("Internal Server Error", "GATEWAY.0500") {
			t.Fatalf("backend %d: %d %q", i, res.StatusCode, body)
		}
	}
	after := countBy(scrapeSeries(t), map[string]string{"route": "dyn"}, "upstream")
	var total float64
	own := 0
	for up, v := range after {
		total += v - before[up]
		if up != upstreamOther {
			own++
		}
	}
	if total != n {
		t.Errorf("counted %v responses, want %d", total, n)
	}
	if own > maxUpstreams {
		t.Errorf("%d upstream label values, want at most %d", own, maxUpstreams)
	}
	if got := after[upstreamOther] - before[upstreamOther]; got < n-maxUpstreams {
		t.Errorf("other grew by %v, want at least %d", got, n-maxUpstreams)
	}
}
