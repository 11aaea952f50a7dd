package errenvelope

// Docs by execution (SPEC §13): for several handler configurations, for
// every examined status and every mapped upstream code, what a real
// Caddy sends equals what `caddy error-catalog` says it sends: the row's
// code and message, its translations, and the OpenAPI example's exact
// body (envelope and problem details).

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// runningContract is the export of the running test configuration, as
// `caddy error-catalog` renders it, with its OpenAPI document.
func runningContract(t *testing.T) (contract, openAPIDoc) {
	t.Helper()
	c := contractOfContext(caddy.ActiveContext())
	out, err := exportOpenAPI(c)
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPIDoc
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	// What the JSON export says, read back as a client of it reads it.
	js, err := exportJSON(c)
	if err != nil {
		t.Fatal(err)
	}
	var back contract
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	return back, doc
}

// openAPIDoc is the part of the OpenAPI export the test reads: each
// response's examples, raw, by media type.
type openAPIDoc struct {
	Components struct {
		Responses map[string]struct {
			Content map[string]struct {
				Examples map[string]struct {
					Value json.RawMessage `json:"value"`
				} `json:"examples"`
			} `json:"content"`
		} `json:"responses"`
	} `json:"components"`
}

// example returns the body of the named example of label's response to
// status, compacted, or nil.
func (d openAPIDoc) example(label string, status int, mediaType, name string) []byte {
	ex, ok := d.Components.Responses[componentName(label)+"."+strconv.Itoa(status)].Content[mediaType].Examples[name]
	if !ok {
		return nil
	}
	var b bytes.Buffer
	_ = json.Compact(&b, ex.Value)
	// A configured message's placeholders stand for what each request
	// makes of them; the test's requests are GETs.
	return bytes.ReplaceAll(b.Bytes(), []byte("{http.request.method}"), []byte("GET"))
}

var requestIDMember = regexp.MustCompile(`"request_id":"[^"]*"`)

// sent fetches route with an upstream reply and returns the status, the
// body with its request ID as the export's stand-in, and the headers.
func sent(t *testing.T, route string, rep reply, header map[string]string) (int, []byte, http.Header) {
	t.Helper()
	key := fmt.Sprintf("%s-%d-%s-%s", strings.TrimPrefix(route, "/"), rep.status, rep.body, header["Accept"]+header["X-Language"])
	res, body := getWith(t, route+path(key, rep), header)
	body = requestIDMember.ReplaceAll(body, []byte(`"request_id":"`+exampleRequestID+`"`))
	return res.StatusCode, body, res.Header
}

// rowsAt are the rows of hc that name status (map_code rows, which name
// none, are not among them).
func rowsAt(hc handlerContract, status int) []contractError {
	var out []contractError
	for _, e := range hc.Errors {
		for _, st := range statusesOf(e) {
			if st == status {
				out = append(out, e)
			}
		}
	}
	return out
}

// statusesOf expands a row's statuses and runs ("405-408").
func statusesOf(row contractError) []int {
	var out []int
	for _, s := range row.Statuses {
		lo, hi, _ := strings.Cut(s, "-")
		a, _ := strconv.Atoi(lo)
		b := a
		if hi != "" {
			b, _ = strconv.Atoi(hi)
		}
		for st := a; st <= b; st++ {
			out = append(out, st)
		}
	}
	return out
}

// codeAt is the code a row gives at status: its code, or for a run of
// fallback codes ("LEG.0405…LEG.0499") the status's own.
func codeAt(row contractError, status int) string {
	if first, _, ok := strings.Cut(row.Code, "…"); ok {
		return fmt.Sprintf("%s.%04d", first[:strings.LastIndexByte(first, '.')], status)
	}
	return row.Code
}

// messageAt is the message a row says a client gets at status, in
// language lang ("" for the row's own): its words made concrete.
func messageAt(row contractError, status int, lang string) string {
	msg := row.Message
	if lang != "" {
		msg = row.Messages[lang]
	}
	if msg == msgReasonPhrase {
		return reasonPhrase(status)
	}
	return strings.ReplaceAll(msg, "{http.request.method}", "GET")
}

type envelopeMembers struct {
	Msg  string `json:"error_msg"`
	Code string `json:"error_code"`
}

func members(t *testing.T, body []byte) envelopeMembers {
	t.Helper()
	var m envelopeMembers
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%q: %v", body, err)
	}
	return m
}

// TestExportEqualsRuntime: for every handler under /diff-*, every
// examined status and every mapped upstream code, the real response
// equals the export's row, translations and OpenAPI example.
func TestExportEqualsRuntime(t *testing.T) {
	startGateway(t)
	c, doc := runningContract(t)
	found := 0
	for _, hc := range c.Handlers {
		if !strings.HasPrefix(hc.Label, "diff-") {
			continue
		}
		found++
		t.Run(hc.Label, func(t *testing.T) {
			route := "/" + hc.Label
			checkStatuses(t, route, hc, doc)
			checkUpstreamCodes(t, route, hc, doc)
		})
	}
	if found != 5 {
		t.Fatalf("found %d diff- handlers in the export, want 5", found)
	}
}

// checkStatuses: a page that says nothing, at every examined status, is
// answered as the status's row says, in every language it lists, and
// byte for byte as its OpenAPI example; an upstream message replaces
// the row's where the row says it does.
func checkStatuses(t *testing.T, route string, hc handlerContract, doc openAPIDoc) {
	examined := 0
	for st := minStatus; st <= maxStatus; st++ {
		rows := rowsAt(hc, st)
		page := reply{status: st, header: h("Content-Type", ctHTML), body: "<h1>Error</h1>"}
		status, body, hdr := sent(t, route, page, nil)
		if len(rows) == 0 {
			if status != st || string(body) != "<h1>Error</h1>" {
				t.Errorf("%d is not in the export, yet the handler rewrote it: %d %s", st, status, body)
			}
			continue
		}
		examined++
		got := members(t, body)
		var row *contractError
		for i := range rows {
			if codeAt(rows[i], st) == got.Code && messageAt(rows[i], st, "") == got.Msg {
				row = &rows[i]
			}
		}
		if row == nil {
			t.Errorf("%d: sent %s, but the export's rows for it are %+v", st, body, rows)
			continue
		}
		name := componentName(got.Code)
		if want := doc.example(hc.Label, st, "application/json", name); !bytes.Equal(body, want) {
			t.Errorf("%d: sent\n%s\nOpenAPI example %s\n%s", st, body, name, want)
		}
		if got := hdr.Get("Content-Language"); got != "" && row.Messages == nil {
			t.Errorf("%d: Content-Language %s, but the row lists no translations", st, got)
		}
		for lang := range row.Messages {
			_, body, hdr := sent(t, route, page, h("X-Language", lang))
			if m := members(t, body); m.Msg != messageAt(*row, st, lang) || hdr.Get("Content-Language") != lang {
				t.Errorf("%d in %s: sent %q (%s), the row says %q", st, lang, m.Msg, hdr.Get("Content-Language"), messageAt(*row, st, lang))
			}
		}
		text := reply{status: st, header: h("Content-Type", ctText), body: "Upstream says hi."}
		_, body, _ = sent(t, route, text, nil)
		want := messageAt(*row, st, "")
		if row.UpstreamFirst {
			want = "Upstream says hi."
		}
		if m := members(t, body); m.Msg != want || m.Code != got.Code {
			t.Errorf("%d with an upstream message: sent %+v, the row (upstream first %v) says %q", st, m, row.UpstreamFirst, want)
		}
		if hc.ProblemDetails {
			_, body, _ := sent(t, route, page, h("Accept", ctProblem))
			if want := doc.example(hc.Label, st, ctProblem, name); !bytes.Equal(body, want) {
				t.Errorf("%d as problem details: sent\n%s\nOpenAPI example\n%s", st, body, want)
			}
			var problem struct{ Type string }
			_ = json.Unmarshal(body, &problem)
			if want := cmp.Or(row.Type, "about:blank"); problem.Type != want {
				t.Errorf("%d as problem details: type %q, the row says %q", st, problem.Type, want)
			}
		}
	}
	if examined == 0 {
		t.Fatal("no status of the export was examined")
	}
}

// checkUpstreamCodes: an upstream error body that names a mapped code
// gets the code and message of the row that lists it, at the row's
// statuses (a map_code row, which names none, at several), and the
// OpenAPI example of that status and code.
func checkUpstreamCodes(t *testing.T, route string, hc handlerContract, doc openAPIDoc) {
	for _, row := range hc.Errors {
		statuses := statusesOf(row)
		if len(statuses) == 0 {
			for _, st := range []int{400, 404, 429, 500, 502, 503, 504} {
				if len(rowsAt(hc, st)) > 0 {
					statuses = append(statuses, st)
				}
			}
		}
		for _, up := range row.UpstreamCodes {
			for _, st := range statuses {
				rep := reply{status: st, header: h("Content-Type", ctJSON), body: `{"code":"` + up + `"}`}
				_, body, _ := sent(t, route, rep, nil)
				got := members(t, body)
				if got.Code != row.Code {
					t.Errorf("%s at %d: sent code %s, the row says %s", up, st, got.Code, row.Code)
					continue
				}
				switch row.Message {
				case msgStatusRule:
					// The status's rule message, else its reason phrase.
					ok := got.Msg == reasonPhrase(st)
					for _, r := range rowsAt(hc, st) {
						ok = ok || got.Msg == messageAt(r, st, "")
					}
					if !ok {
						t.Errorf("%s at %d: sent %q, not the status's rule message or reason phrase", up, st, got.Msg)
					}
				case msgCodeCatalog:
					ok := false
					for _, r := range hc.Errors {
						ok = ok || (r.Code == row.Code && r.Source != sourceMapCode && got.Msg == r.Message)
					}
					if !ok {
						t.Errorf("%s at %d: sent %q, not a catalog message of %s", up, st, got.Msg, row.Code)
					}
				default:
					if want := messageAt(row, st, ""); got.Msg != want {
						t.Errorf("%s at %d: sent %q, the row says %q", up, st, got.Msg, want)
					}
				}
				name := componentName(got.Code)
				want := doc.example(hc.Label, st, "application/json", name)
				if !bytes.Equal(body, want) {
					want = doc.example(hc.Label, st, "application/json", componentName(got.Code+".from."+up))
				}
				if !bytes.Equal(body, want) {
					t.Errorf("%s at %d: sent\n%s\nno OpenAPI example of %d says so (%s: %s)", up, st, body, st, name, want)
				}
				// An upstream's own message replaces a map_code row's
				// where the row says so; a catalog upstream code always
				// carries its entry's message.
				rep.body = `{"code":"` + up + `","message":"Upstream says hi."}`
				_, body, _ = sent(t, route, rep, nil)
				allowed := strings.Contains(hc.UpstreamMessage, strconv.Itoa(st/100)) || hc.UpstreamMessage == "all"
				replaced := row.Source == sourceMapCode && row.UpstreamFirst && allowed
				if m := members(t, body); replaced != (m.Msg == "Upstream says hi.") {
					t.Errorf("%s at %d with a message: sent %q (row %s, upstream first %v, upstream_message %s)", up, st, m.Msg, row.Source, row.UpstreamFirst, hc.UpstreamMessage)
				}
			}
		}
	}
}
