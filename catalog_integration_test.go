package errenvelope

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const varyLang = "Accept-Language, X-Language"

// TestCatalogPrecedence: how catalog entries join the choice of code and
// message (SPEC §10.2), through a real Caddy.
func TestCatalogPrecedence(t *testing.T) {
	startGateway(t)
	rows := []row{
		{name: "caddyfile map_code beats the catalog's upstream code",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"code":"DUP_UP","message":"upstream says no"}`},
			wantStatus: 400, wantBody: env("Caddyfile map_code wins.", "HANDLER.0001"), envelope: true,
			wantHeader: h("Content-Language", "", "Vary", "")},
		{name: "catalog upstream code carries its message over the upstream's",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"code":"INVALID_ORDER","message":"upstream says no"}`},
			wantStatus: 400, wantBody: env("The order is invalid.", "ORD.0001"), envelope: true,
			wantHeader: h("Content-Language", "en", "Vary", varyLang)},
		{name: "message-less map_code line takes the catalog message of its code",
			reply:      reply{status: 404, header: h("Content-Type", ctJSON), body: `{"code":"LEGACY_NF"}`},
			wantStatus: 404, wantBody: env("The order does not exist.", "ORD.0404"), envelope: true},
		{name: "message-less map_code line keeps an allowed upstream message",
			reply:      reply{status: 404, header: h("Content-Type", ctJSON), body: `{"code":"LEGACY_NF","message":"legacy lookup failed"}`},
			wantStatus: 404, wantBody: env("legacy lookup failed", "ORD.0404"), envelope: true,
			wantHeader: h("Content-Language", "")},
		{name: "message-less map_status line takes the catalog message of its code",
			reply:      reply{status: 404, header: h("Content-Type", ctHTML), body: expressHTML},
			wantStatus: 404, wantBody: env("The order does not exist.", "ORD.0404"), envelope: true,
			wantHeader: h("Content-Language", "en", "Vary", varyLang)},
		{name: "caddyfile line beats a catalog entry at equal specificity",
			reply:      reply{status: 410, header: h("Content-Type", ctHTML), body: expressHTML},
			wantStatus: 410, wantBody: env("Handler line.", "HANDLER.0410"), envelope: true,
			wantHeader: h("Content-Language", "", "Vary", "")},
		{name: "exact catalog status beats a caddyfile range",
			reply:      reply{status: 429, header: h("Content-Type", ctHTML), body: expressHTML},
			wantStatus: 429, wantBody: env("Slow down: GET requests are throttled.", "ORD.0429"), envelope: true},
		{name: "caddyfile range beats a catalog class",
			reply:      reply{status: 421, header: h("Content-Type", ctHTML), body: expressHTML},
			wantStatus: 421, wantBody: env("Handler range.", "HANDLER.0420"), envelope: true},
		{name: "catalog class applies where nothing narrower does",
			reply:      reply{status: 418, header: h("Content-Type", ctHTML), body: expressHTML},
			wantStatus: 418, wantBody: env("Bad order request.", "ORD.4000"), envelope: true},
		{name: "catalog exact status",
			reply:      reply{status: 409, header: h("Content-Type", ctText), body: "version conflict\n"},
			wantStatus: 409, wantBody: env("version conflict", "ORD.0409"), envelope: true},
		{name: "upstream error_code keeps its code and takes the catalog message for its status",
			reply:      reply{status: 503, header: h("Content-Type", ctJSON), body: `{"error_code":"ORD.0500","detail":"pool exhausted at db-3"}`},
			wantStatus: 503, wantBody: env("The order service is overloaded.", "ORD.0500"), envelope: true,
			wantHeader: h("Content-Language", "")},
		{name: "upstream error_code without an entry for the status takes the code's first entry",
			reply:      reply{status: 507, header: h("Content-Type", ctJSON), body: `{"error_code":"ORD.0500"}`},
			wantStatus: 507, wantBody: env("The order service failed.", "ORD.0500"), envelope: true,
			wantHeader: h("Content-Language", "en")},
		{name: "catalog class rule yields to its code's entry for the status",
			reply:      reply{status: 503, header: h("Content-Type", ctHTML), body: expressHTML},
			wantStatus: 503, wantBody: env("The order service is overloaded.", "ORD.0500"), envelope: true,
			wantHeader: h("Content-Language", "")},
		{name: "catalog class rule in the client's language",
			header:     h("X-Language", "zh-CN"),
			reply:      reply{status: 500, header: h("Content-Type", ctHTML), body: expressHTML},
			wantStatus: 500, wantBody: env("订单服务故障。", "ORD.0500"), envelope: true,
			wantHeader: h("Content-Language", "zh-CN", "Vary", varyLang)},
		{name: "yaml catalog entry by status",
			reply:      reply{status: 402, header: h("Content-Type", ctHTML), body: expressHTML},
			wantStatus: 402, wantBody: env("Payment required.", "PAY.0001"), envelope: true},
		{name: "yaml catalog upstream code",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"errors":[{"code":"PAYMENT_REQUIRED","detail":"card declined"}]}`},
			wantStatus: 400, wantBody: env("Payment required.", "PAY.0001"), envelope: true},
		{name: "conforming envelope passes byte for byte",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON, "Vary", "Origin"), body: `{"error_msg":"Bad.", "error_code":"ANY.0001"}`},
			wantStatus: 400, wantBody: `{"error_msg":"Bad.", "error_code":"ANY.0001"}`,
			wantHeader: h("Vary", "Origin", "Content-Language", "")},
	}
	for _, rw := range rows {
		rw.route = "/cat"
		t.Run(rw.name, rw.run)
	}
	down := []row{
		{name: "dead backend gets the catalog's 502 entry",
			wantStatus: 502, wantBody: env("The order service is unavailable.", "ORD.0502"), envelope: true,
			wantHeader: h("Content-Language", "", "Vary", "")},
		{name: "dead backend in chinese",
			header:     h("X-Language", "zh-cn"),
			wantStatus: 502, wantBody: env("The order service is unavailable.", "ORD.0502"), envelope: true},
	}
	for _, rw := range down {
		rw.route = "/cat-down"
		t.Run(rw.name, rw.run)
	}
}

// TestCatalogLanguages: catalog messages in the client's language (SPEC
// §10.4); Caddyfile and upstream messages are never translated.
func TestCatalogLanguages(t *testing.T) {
	startGateway(t)
	notFound := reply{status: 404, header: h("Content-Type", ctHTML), body: expressHTML}
	zh := env("订单不存在。", "ORD.0404")
	en := env("The order does not exist.", "ORD.0404")
	rows := []row{
		{name: "no language header gives the catalog language", reply: notFound,
			wantStatus: 404, wantBody: en, envelope: true, wantHeader: h("Content-Language", "en", "Vary", varyLang)},
		{name: "x-language lower case", header: h("X-Language", "zh-cn"), reply: notFound,
			wantStatus: 404, wantBody: zh, envelope: true, wantHeader: h("Content-Language", "zh-CN", "Vary", varyLang)},
		{name: "x-language upper case", header: h("X-Language", "ZH-CN"), reply: notFound,
			wantStatus: 404, wantBody: zh, envelope: true, wantHeader: h("Content-Language", "zh-CN")},
		{name: "base language matches its regional variant", header: h("X-Language", "zh"), reply: notFound,
			wantStatus: 404, wantBody: zh, envelope: true, wantHeader: h("Content-Language", "zh-CN")},
		{name: "regional tag falls back to its base language",
			header:     h("X-Language", "zh-CN"),
			reply:      reply{status: 402, header: h("Content-Type", ctHTML), body: expressHTML},
			wantStatus: 402, wantBody: env("需要付款。", "PAY.0001"), envelope: true, wantHeader: h("Content-Language", "zh")},
		{name: "accept-language by q value", header: h("Accept-Language", "fr;q=0.9, zh-CN;q=0.8, en;q=0.1"), reply: notFound,
			wantStatus: 404, wantBody: zh, envelope: true, wantHeader: h("Content-Language", "zh-CN")},
		{name: "accept-language higher q wins over order", header: h("Accept-Language", "zh;q=0.1, en;q=0.5"), reply: notFound,
			wantStatus: 404, wantBody: en, envelope: true, wantHeader: h("Content-Language", "en")},
		{name: "accept-language star gives the catalog language", header: h("Accept-Language", "*"), reply: notFound,
			wantStatus: 404, wantBody: en, envelope: true, wantHeader: h("Content-Language", "en")},
		{name: "no match gives the catalog language", header: h("X-Language", "fr-FR"), reply: notFound,
			wantStatus: 404, wantBody: en, envelope: true, wantHeader: h("Content-Language", "en")},
		{name: "x-language beats accept-language", header: h("X-Language", "en-us", "Accept-Language", "zh-CN"), reply: notFound,
			wantStatus: 404, wantBody: en, envelope: true, wantHeader: h("Content-Language", "en")},
		{name: "a third language of the entry",
			header:     h("Accept-Language", "de-AT, en;q=0.5"),
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"code":"INVALID_ORDER"}`},
			wantStatus: 400, wantBody: env("Die Bestellung ist ungültig.", "ORD.0001"), envelope: true, wantHeader: h("Content-Language", "de")},
		{name: "vary keeps the upstream's values", header: h("X-Language", "zh-CN"),
			reply:      reply{status: 404, header: h("Content-Type", ctHTML, "Vary", "Origin, Accept-Encoding"), body: expressHTML},
			wantStatus: 404, wantBody: zh, envelope: true, wantHeader: h("Vary", "Origin, Accept-Encoding, Accept-Language, X-Language")},
		{name: "vary already naming accept-language is not repeated", header: h("X-Language", "zh-CN"),
			reply:      reply{status: 404, header: h("Content-Type", ctHTML, "Vary", "accept-language"), body: expressHTML},
			wantStatus: 404, wantBody: zh, envelope: true, wantHeader: h("Vary", "accept-language, X-Language")},
		{name: "upstream content-language is replaced", header: h("X-Language", "zh-CN"),
			reply:      reply{status: 404, header: h("Content-Type", ctHTML, "Content-Language", "fr"), body: expressHTML},
			wantStatus: 404, wantBody: zh, envelope: true, wantHeader: h("Content-Language", "zh-CN")},
		{name: "caddyfile messages are never translated", header: h("X-Language", "zh-CN"),
			reply:      reply{status: 410, header: h("Content-Type", ctHTML), body: expressHTML},
			wantStatus: 410, wantBody: env("Handler line.", "HANDLER.0410"), envelope: true, wantHeader: h("Content-Language", "", "Vary", "")},
		{name: "upstream messages are never translated", header: h("X-Language", "zh-CN"),
			reply:      reply{status: 404, header: h("Content-Type", ctJSON, "Content-Language", "fr"), body: `{"code":"LEGACY_NF","message":"commande introuvable"}`},
			wantStatus: 404, wantBody: env("commande introuvable", "ORD.0404"), envelope: true, wantHeader: h("Content-Language", "", "Vary", "")},
		{name: "head gets the language headers", method: http.MethodHead, header: h("X-Language", "zh-CN"), reply: notFound,
			wantStatus: 404, wantBody: "", envelope: true, wantHeader: h("Content-Language", "zh-CN", "Vary", varyLang, "Content-Length", strconv.Itoa(len(zh)))},
	}
	for _, rw := range rows {
		rw.route = "/cat"
		t.Run(rw.name, rw.run)
	}
}

// TestUnknownCodesRewrite: with unknown_codes rewrite the catalog is the
// whole contract (SPEC §10.3).
func TestUnknownCodesRewrite(t *testing.T) {
	startGateway(t)
	known := `{"error_msg":"The order is invalid.","error_code":"ORD.0001"}`
	rows := []row{
		{name: "known code passes byte for byte",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: known},
			wantStatus: 400, wantBody: known},
		{name: "unknown code is rewritten with a catalog code",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"error_msg":"Quota exceeded.","error_code":"LEGACY.0042"}`},
			wantStatus: 400, wantBody: env("Quota exceeded.", "ORD.4000"), envelope: true},
		{name: "unknown nested code does not count",
			reply:      reply{status: 500, header: h("Content-Type", ctHTML), body: `<h1>oops</h1>`},
			wantStatus: 500, wantBody: env("The order service failed.", "ORD.0500"), envelope: true},
		{name: "known upstream code in a foreign shape is kept",
			reply:      reply{status: 404, header: h("Content-Type", ctJSON), body: `{"error":{"error_code":"ORD.0404"}}`},
			wantStatus: 404, wantBody: env("The order does not exist.", "ORD.0404"), envelope: true},
	}
	for _, rw := range rows {
		rw.route = "/cat-strict"
		t.Run(rw.name, rw.run)
	}
	t.Run("unknown code is counted with reason unknown_code", func(t *testing.T) {
		if n := scrapeCounters(t)["rewritten/unknown_code"]; n < 1 {
			t.Errorf("rewritten/unknown_code counted %v times, want at least 1", n)
		}
	})
}

// TestReloadWithBrokenCatalog: a reload whose catalog is broken fails with
// the catalog's error, and the running config keeps serving.
func TestReloadWithBrokenCatalog(t *testing.T) {
	startGateway(t)
	dir := t.TempDir()
	broken := dir + "/broken.json"
	if err := os.WriteFile(broken, []byte(`{"errors":[{"code":"X.1","status":404,"message":"Nope.","upstream_code":["NF"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(gatewayConfigFor(), "catalog testdata/payments.yaml", "catalog "+broken, 1)
	res, err := http.Post("http://localhost:2999/load", "text/caddyfile", strings.NewReader(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var answer struct{ Error string }
	err = json.NewDecoder(res.Body).Decode(&answer)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode == http.StatusOK {
		t.Fatalf("reload with a broken catalog succeeded")
	}
	for _, want := range []string{broken, "errors[0]", `(code "X.1")`, `unknown member "upstream_code"`} {
		if !strings.Contains(answer.Error, want) {
			t.Errorf("reload error %q does not name %s", answer.Error, want)
		}
	}
	row{name: "still serving after the failed reload", route: "/cat",
		reply:      reply{status: 402, header: h("Content-Type", ctHTML), body: expressHTML},
		wantStatus: 402, wantBody: env("Payment required.", "PAY.0001"), envelope: true}.run(t)
	// Caddy v2.11.9 starts the new config's admin endpoint before its
	// apps load, and keeps it when they fail: /metrics then shows the
	// failed config's empty registry. Load the running config again, as
	// an operator does with the fixed catalog, so later tests scrape it.
	reloadGateway(t)
}

// reloadGateway loads the test configuration again, even though it is
// unchanged (as `caddy reload --force` does).
func reloadGateway(t *testing.T) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://localhost:2999/load", strings.NewReader(gatewayConfigFor()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	req.Header.Set("Cache-Control", "must-revalidate")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("reloading the test configuration: %d %s", res.StatusCode, body)
	}
}

// TestAPIGCatalog: the shipped catalogs/apig.json alone makes the
// gateway's own errors read as Huawei API Gateway's do.
func TestAPIGCatalog(t *testing.T) {
	startGateway(t)
	rows := []row{
		{name: "dead backend", route: "/apig-down",
			wantStatus: 502, wantBody: env("Backend unavailable.", "APIG.0201"), envelope: true},
		{name: "backend timeout", route: "/apig-slow",
			reply:      reply{status: 200, delay: time.Second, body: "late"},
			wantStatus: 504, wantBody: env("Backend timeout.", "APIG.0201"), envelope: true},
		{name: "html 404", route: "/apig",
			reply:      reply{status: 404, header: h("Content-Type", ctHTML), body: expressHTML},
			wantStatus: 404, wantBody: env("The API does not exist or has not been published in the environment.", "APIG.0101"), envelope: true},
		{name: "html 405 takes the 4xx default", route: "/apig",
			reply:      reply{status: 405, header: h("Content-Type", ctHTML, "Allow", "GET"), body: expressHTML},
			wantStatus: 405, wantBody: env("API request error.", "APIG.0201"), envelope: true, wantHeader: h("Allow", "GET")},
		{name: "413 has its own message", route: "/apig",
			reply:      reply{status: 413, header: h("Content-Type", ctHTML), body: expressHTML},
			wantStatus: 413, wantBody: env("Request entity too large.", "APIG.0201"), envelope: true},
		{name: "throttled", route: "/apig",
			reply:      reply{status: 429, header: h("Content-Type", ctHTML, "Retry-After", "3"), body: expressHTML},
			wantStatus: 429, wantBody: env("The throttling threshold has been reached.", "APIG.0308"), envelope: true, wantHeader: h("Retry-After", "3")},
		{name: "spring 500 takes the 5xx default", route: "/apig",
			reply:      reply{status: 500, header: h("Content-Type", ctJSON), body: springBoot},
			wantStatus: 500, wantBody: env("An unexpected error occurred", "APIG.0201"), envelope: true},
		{name: "no upstream available", route: "/apig",
			reply:      reply{status: 503, header: h("Content-Type", ctText), body: "no healthy upstream"},
			wantStatus: 503, wantBody: env("No backend available.", "APIG.0610"), envelope: true},
	}
	for _, rw := range rows {
		t.Run(rw.name, rw.run)
	}
}

// TestReloadAfterCatalogEdit: Caddy compares configs, and a catalog's
// contents are not in the config, so after editing only a catalog a
// plain `caddy reload` is skipped ("config is unchanged") and the old
// messages stay; `caddy reload --force` applies the edit, and a broken
// edit fails it while the running catalog keeps serving.
func TestReloadAfterCatalogEdit(t *testing.T) {
	dir := t.TempDir()
	catalog := filepath.Join(dir, "catalog.json")
	write := func(msg string) {
		t.Helper()
		if err := os.WriteFile(catalog, []byte(`{"errors":[{"code":"R.0404","status":404,"message":"`+msg+`","statuses":["404"]}]}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("First text.")
	const admin, site = "localhost:2997", "127.0.0.1:9097"
	caddyfile := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(caddyfile, []byte("{\n\tadmin "+admin+"\n\tpersist_config off\n}\n\nhttp://"+site+" {\n\terror_envelope {\n\t\tcatalog catalog.json\n\t}\n\trespond 404\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startCaddy(t, dir, "run", "--config", "Caddyfile")
	message := func() string {
		t.Helper()
		_, body := getUntilUp(t, "http://"+site+"/x")
		return checkEnvelope(t, body)["error_msg"]
	}
	if got := message(); got != "First text." {
		t.Fatalf("before the edit: %q", got)
	}
	write("Second text.")
	if out, code := caddyCommand(t, dir, "reload", "--config", "Caddyfile", "--address", admin); code != 0 {
		t.Fatalf("caddy reload exited %d: %s", code, out)
	}
	if got := message(); got != "First text." {
		t.Errorf("after a plain reload: %q, want the old text (Caddy skips an unchanged config)", got)
	}
	if out, code := caddyCommand(t, dir, "reload", "--config", "Caddyfile", "--address", admin, "--force"); code != 0 {
		t.Fatalf("caddy reload --force exited %d: %s", code, out)
	}
	if got := message(); got != "Second text." {
		t.Errorf("after reload --force: %q, want the edited text", got)
	}
	if err := os.WriteFile(catalog, []byte(`{"errors":[{"code":"R.0404","status":404,"mesage":"Typo."}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := caddyCommand(t, dir, "reload", "--config", "Caddyfile", "--address", admin, "--force")
	if code == 0 || !strings.Contains(out, "unknown member") || !strings.Contains(out, "mesage") {
		t.Errorf("reload --force with a broken catalog: exit %d, %s", code, out)
	}
	if got := message(); got != "Second text." {
		t.Errorf("after a failed reload: %q, want the running catalog's text", got)
	}
}
