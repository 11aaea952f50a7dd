package errenvelope

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// scrapeCounters reads the handler's counters from Caddy's admin
// endpoint, keyed "outcome/reason".
func scrapeCounters(t *testing.T) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, s := range scrapeSeries(t) {
		out[s.labels["outcome"]+"/"+s.labels["reason"]] += s.value // summed over routes and upstreams
	}
	return out
}

// TestMetricsAndReportMode sends the same upstream cases through rewrite
// mode and report mode side by side: report mode changes no byte, and the
// counters scraped from a real Caddy say what each mode did and why.
func TestMetricsAndReportMode(t *testing.T) {
	startGateway(t)
	cases := []struct {
		name   string
		reply  reply
		reason string
		passes bool
	}{
		{"html page", reply{status: 404, header: h("Content-Type", ctHTML), body: expressHTML}, reasonNotJSON, false},
		{"plain text", reply{status: 500, header: h("Content-Type", ctText), body: "boom"}, reasonNotJSON, false},
		{"invalid json", reply{status: 400, header: h("Content-Type", ctJSON), body: `{"error_msg":`}, reasonInvalidJSON, false},
		{"json array", reply{status: 400, header: h("Content-Type", ctJSON), body: `[1]`}, reasonNotObject, false},
		{"spring boot", reply{status: 500, header: h("Content-Type", ctJSON), body: springBoot}, reasonMissingFields, false},
		{"empty body", reply{status: 503, header: h("Content-Type", ctJSON)}, reasonEmpty, false},
		{"corrupt gzip", reply{status: 400, header: h("Content-Type", ctJSON, "Content-Encoding", "gzip"), body: "nope"}, reasonBadEncoding, false},
		{"conforming", reply{status: 400, header: h("Content-Type", ctJSON), body: exactEnvelope}, reasonConforming, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := scrapeCounters(t)
			p := path("metrics-"+c.name, c.reply)
			hdr := map[string]string{"Accept-Encoding": "gzip"}

			// report mode: the upstream's response, byte for byte
			row{name: c.name, route: "/report", reply: c.reply, header: hdr,
				wantStatus: c.reply.status, wantBody: c.reply.body,
				wantHeader: h("Content-Type", c.reply.header["Content-Type"], "Content-Encoding", c.reply.header["Content-Encoding"])}.run(t)

			// rewrite mode, same upstream case
			res, body := getWith(t, "/default"+p, hdr)
			if c.passes {
				if string(body) != c.reply.body {
					t.Fatalf("rewrite mode changed a conforming body: %q", body)
				}
			} else {
				if res.StatusCode != c.reply.status {
					t.Fatalf("rewrite mode status %d", res.StatusCode)
				}
				checkEnvelope(t, body)
			}

			after := scrapeCounters(t)
			outcome := outcomeRewritten
			if c.passes {
				outcome = outcomePassed
			}
			for key, want := range map[string]float64{outcome + "/" + c.reason: 1, outcomeReported + "/" + c.reason: 1} {
				if got := after[key] - before[key]; got != want {
					t.Errorf("%s grew by %v, want %v", key, got, want)
				}
			}
		})
	}

	t.Run("gateway error", func(t *testing.T) {
		before := scrapeCounters(t)
		row{name: "report", route: "/report-down", wantStatus: 502, wantBody: "handle_errors saw 502"}.run(t)
		row{name: "rewrite", route: "/down", wantStatus: 502, wantBody: env("Bad Gateway", "GATEWAY.0502"), envelope: true}.run(t)
		row{name: "off", route: "/untouched-down", wantStatus: 502, wantBody: "handle_errors saw 502"}.run(t)
		after := scrapeCounters(t)
		for _, key := range []string{"reported/gateway_error", "gateway/gateway_error", "passed/gateway_error"} {
			if got := after[key] - before[key]; got != 1 {
				t.Errorf("%s grew by %v, want 1", key, got)
			}
		}
	})

	t.Run("body over max_body in report mode streams on untouched", func(t *testing.T) {
		big := strings.Repeat("<p>x</p>", 300<<10) // 2.3 MiB, over the default 1 MiB
		before := scrapeCounters(t)
		for _, chunked := range []bool{false, true} {
			row{name: "big-" + strconv.FormatBool(chunked), route: "/report",
				reply:      reply{status: 500, header: h("Content-Type", ctHTML), body: big, chunked: chunked},
				wantStatus: 500, wantBody: big, wantHeader: h("Content-Type", ctHTML)}.run(t)
		}
		if got := scrapeCounters(t)["reported/too_large"] - before["reported/too_large"]; got != 2 {
			t.Errorf("reported/too_large grew by %v, want 2", got)
		}
	})
}

// getWith fetches a gateway path with extra request headers.
func getWith(t *testing.T, p string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, gatewayAddr+p, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// TestLogs asserts the log lines of SPEC §8 with an observer core.
func TestLogs(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	h := newTestHandler(t, &Handler{})
	h.logger = zap.New(core)
	serve := func(next caddyhttp.HandlerFunc) {
		req := httptest.NewRequest(http.MethodGet, "/orders/7", nil)
		req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, caddyhttp.NewTestReplacer(req)))
		if err := h.ServeHTTP(httptest.NewRecorder(), req, next); err != nil {
			t.Fatal(err)
		}
	}

	serve(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(404)
		_, _ = io.WriteString(w, "<h1>Not Found</h1>")
		return nil
	})
	entries := logs.TakeAll()
	if len(entries) != 1 || entries[0].Level != zapcore.DebugLevel || entries[0].Message != "rewrote error response" {
		t.Fatalf("rewrite logged %v", entries)
	}
	fields := entries[0].ContextMap()
	for k, want := range map[string]any{"status": int64(404), "reason": "not_json", "error_code": "GATEWAY.0404",
		"upstream_content_type": "text/html", "upstream_size": int64(18), "uri": "/orders/7"} {
		if fields[k] != want {
			t.Errorf("rewrite log %s = %#v, want %#v", k, fields[k], want)
		}
	}

	serve(func(w http.ResponseWriter, r *http.Request) error {
		return caddyhttp.Error(http.StatusBadGateway, errBenchGateway)
	})
	entries = logs.TakeAll()
	if len(entries) != 1 || entries[0].Level != zapcore.ErrorLevel || entries[0].Message != "gateway error" {
		t.Fatalf("gateway error logged %v", entries)
	}
	fields = entries[0].ContextMap()
	if fields["status"] != int64(502) || fields["outcome"] != "gateway" || !strings.Contains(fields["error"].(string), "dial tcp 127.0.0.1:8089") {
		t.Errorf("gateway error log fields %v", fields)
	}

	serve(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		_, _ = io.WriteString(w, exactEnvelope)
		return nil
	})
	entries = logs.TakeAll()
	if len(entries) != 1 || entries[0].Message != "error response passed" || entries[0].ContextMap()["reason"] != "conforming" {
		t.Fatalf("conforming logged %v", entries)
	}

	serve(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "ok")
		return nil
	})
	if n := logs.Len(); n != 0 {
		t.Fatalf("a success logged %d lines", n)
	}
}

// TestMetricsShowOnlySeriesThatCounted: /metrics has no series that never
// counted (and so none that never can, like gateway/conforming).
func TestMetricsShowOnlySeriesThatCounted(t *testing.T) {
	startGateway(t)
	row{name: "one rewrite", route: "/default",
		reply:      reply{status: 404, header: h("Content-Type", ctHTML), body: expressHTML},
		wantStatus: 404, wantBody: env("Not Found", "GATEWAY.0404"), envelope: true}.run(t)
	got := scrapeCounters(t)
	if got["rewritten/not_json"] < 1 {
		t.Errorf("rewritten/not_json = %v after a rewrite", got["rewritten/not_json"])
	}
	for key, n := range got {
		if n == 0 {
			t.Errorf("series %s is shown with 0", key)
		}
	}
	if _, ok := got["gateway/conforming"]; ok {
		t.Errorf("gateway/conforming is shown")
	}
}

// TestCounterSet: a pair counts into its own series, made the first time.
func TestCounterSet(t *testing.T) {
	reg := prometheus.NewRegistry()
	vec := newResponsesCounter()
	reg.MustRegister(vec)
	s := newCounterSet(vec, newScrubbedCounter(), "")
	if n := testutil.CollectAndCount(vec); n != 0 {
		t.Fatalf("%d series before counting", n)
	}
	s.inc(outcomeRewritten, reasonNotJSON, "")
	s.inc(outcomeRewritten, reasonNotJSON, "")
	s.inc(outcomePassed, reasonConforming, "")
	s.inc("nonsense", reasonConforming, "")
	if n := testutil.CollectAndCount(vec); n != 2 {
		t.Fatalf("%d series, want 2", n)
	}
	if v := testutil.ToFloat64(vec.WithLabelValues(outcomeRewritten, reasonNotJSON, "", "")); v != 2 {
		t.Fatalf("rewritten/not_json = %v, want 2", v)
	}
}
