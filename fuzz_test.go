package errenvelope

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
)

// shapeSeeds are the upstream error shapes of SPEC §4.1, as Content-Type
// and body, seeding every fuzz target.
var shapeSeeds = []struct{ ct, body string }{
	{ctJSON, exactEnvelope},
	{ctJSON, `{"error_msg":"","error_code":"IAM.0011"}`},
	{ctJSON, springBoot},
	{ctJSON, `{"statusCode":400,"code":"FST_ERR_VALIDATION","error":"Bad Request","message":"body must have required property 'name'"}`},
	{ctJSON, `{"detail":"Authentication credentials were not provided."}`},
	{ctJSON, `{"detail":[{"type":"missing","loc":["body","name"],"msg":"Field required","input":{}}]}`},
	{"application/problem+json", `{"type":"about:blank","title":"Out of credit","detail":"Balance is 30.","code":"CREDIT"}`},
	{ctJSON, `{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}`},
	{ctJSON, `{"error":{"code":"ResourceNotFound","message":"The Resource 'vm1' was not found."}}`},
	{ctJSON, `{"error":{"error_code":"IAM.0002","error_msg":"Token expired."}}`},
	{ctJSON, `{"error":"invalid_grant","error_description":"Refresh token expired"}`},
	{"application/vnd.api+json", `{"errors":[{"status":"422","code":"VALIDATION","title":"Invalid Attribute","detail":"Too short."}]}`},
	{"application/x-amz-json-1.1", `{"__type":"com.amazonaws#ResourceNotFoundException","message":"Requested resource not found"}`},
	{ctJSON, `{"errorCode":"E100","errorMessage":"Quantity must be positive."}`},
	{ctText, "404 page not found\n"},
	{"text/plain", stackTrace},
	{"text/html", nginxHTML},
	{"application/xml", `<Error><Code>NoSuchKey</Code></Error>`},
	{"", ""},
	{ctJSON, `[{"error_msg":"x","error_code":"Y"}]`},
	{ctJSON, `{"error_msg":"x","error_code":"Y"}trailing`},
	{ctJSON, "{\"message\":\"a\\u0000b\xff\"}"},
	{ctJSON, `{"error_msg":"a","error_code":"B.1","error_msg":""}`},
}

// FuzzExamine: whatever the upstream sends, a passed response truly
// conforms and a rewritten one is a valid envelope with clean strings.
func FuzzExamine(f *testing.F) {
	for _, s := range shapeSeeds {
		f.Add(s.ct, "", []byte(s.body))
	}
	f.Add(ctJSON, "gzip", compress("gzip", []byte(exactEnvelope)))
	f.Add(ctJSON, "br", compress("br", []byte(springBoot)))
	f.Add(ctJSON, "deflate, gzip", compress("gzip", compress("deflate", []byte(springBoot))))
	h := newTestHandler(f, &Handler{
		UpstreamMessage: "all",
		MapCode:         []CodeRule{{UpstreamCode: "NOT_FOUND", ErrorCode: "APIG.0404"}},
		Fields:          []Field{{Name: "service", Value: "orders"}},
		MaxBody:         64 << 10,
	})
	f.Fuzz(func(t *testing.T, ct, coding string, body []byte) {
		hdr := http.Header{}
		hdr.Set("Content-Type", ct)
		if coding != "" {
			hdr.Set("Content-Encoding", coding)
		}
		v := h.policy.examine(hdr, body, false, false, formatJSON)
		if v.reason == reasonConforming {
			plain, err := decodeBody(body, coding, h.policy.maxBody)
			if err != nil {
				t.Fatalf("passed a body that does not decode: %v", err)
			}
			var m map[string]any
			if err := json.Unmarshal(plain, &m); err != nil {
				t.Fatalf("passed a body that is not one JSON object: %v", err)
			}
			for _, k := range []string{"error_msg", "error_code"} {
				if s, ok := m[k].(string); !ok || s == "" {
					t.Fatalf("passed a body whose %s is %#v", k, m[k])
				}
			}
			return
		}
		for _, status := range []int{400, 502} {
			got := checkEnvelope(t, rewriteOf(h, status, v.words), "service")
			checkClean(t, got["error_msg"], h.policy.maxMessage)
		}
	})
}

// FuzzExtract: message and code extraction never panics and yields
// clean, bounded strings.
func FuzzExtract(f *testing.F) {
	for _, s := range shapeSeeds {
		f.Add([]byte(s.body))
	}
	h := newTestHandler(f, &Handler{MaxMessage: 64})
	f.Fuzz(func(t *testing.T, body []byte) {
		var w upstreamWords
		if obj, ok, err := parseObject(body); err == nil && ok {
			w = wordsFromJSON(obj)
		} else {
			w = wordsFromText(body)
		}
		checkClean(t, h.policy.cleanMessage(w.msg), h.policy.maxMessage)
		for _, c := range []string{w.code, w.errorCode} {
			if c != "" && !isPlausibleCode(c) {
				t.Fatalf("implausible code %q", c)
			}
		}
	})
}

// FuzzAppendJSONString: the encoder's output always decodes back to the
// input, with each invalid UTF-8 byte as U+FFFD.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote \" back \\ slash", "\x00\x1f\x7f", "\xff\xfe", "\u2028\u2029", "é中😀", "</script>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q encoded as invalid JSON %q: %v", s, out, err)
		}
		if want := string([]rune(s)); back != want {
			t.Fatalf("%q encoded as %q, decodes to %q", s, out, back)
		}
	})
}

// checkClean asserts what cleanMessage promises.
func checkClean(t *testing.T, msg string, limit int) {
	t.Helper()
	if !utf8.ValidString(msg) {
		t.Fatalf("message %q is not valid UTF-8", msg)
	}
	if n := utf8.RuneCountInString(msg); n > limit {
		t.Fatalf("message has %d characters, over %d", n, limit)
	}
	prevSpace := true
	for _, r := range msg {
		if unicode.IsControl(r) {
			t.Fatalf("message %q holds control character %U", msg, r)
		}
		space := unicode.IsSpace(r)
		if space && (prevSpace || r != ' ') {
			t.Fatalf("message %q has unfolded or surrounding space", msg)
		}
		prevSpace = space
	}
	if prevSpace && msg != "" {
		t.Fatalf("message %q ends in space", msg)
	}
}

// FuzzScanMatchesReference: the single-pass scanner agrees with the same
// rules written on encoding/json, on validity, on what it extracts and on
// duplicate members.
func FuzzScanMatchesReference(f *testing.F) {
	for _, s := range shapeSeeds {
		f.Add([]byte(s.body))
	}
	for _, s := range []string{
		`{"error\u005fmsg":"escaped key","error_code":"A.1"}`, `{"a":[1,2,{"b":null}],"c":-0.5e+3}`,
		`{"message":"\ud83d\ude00 \ud800 x"}`, `{"errors":[[{"code":"X"}]]}`, `{"error":[{"message":"m"}]}`,
		`{"error":{"message":"a"},"error":"b"}`, `{"detail":"s","detail":[{"msg":"m"}]}`, `01`, `{"a":1,}`, `{"a" 1}`,
		"\"\x01\"", `{"a":"\x"}`, `[1,2]`, `  {"status":404,"error":"Not Found"}  `, `{"code":"\u0041\u0042"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obj, ok, err := parseObject(body)
		ref, refOK, refErr := refParseObject(body)
		if (err != nil) != (refErr != nil) || ok != refOK {
			t.Fatalf("%q: scanner ok=%v err=%v, encoding/json ok=%v err=%v", body, ok, err, refOK, refErr)
		}
		if !ok {
			return
		}
		if got, want := wordsFromJSON(obj), refWordsFromJSON(ref); got != want {
			t.Fatalf("%q: scanner read %+v, encoding/json %+v", body, got, want)
		}
		for k, name := range map[int]string{kErrorMsg: "error_msg", kErrorCode: "error_code"} {
			got, gotOK := obj.str(k)
			want, wantOK := ref.str(name)
			if got != want || gotOK != wantOK {
				t.Fatalf("%q: %s scanner %q %v, encoding/json %q %v", body, name, got, gotOK, want, wantOK)
			}
		}
		if got, want := obj.hasDuplicates(), refHasDuplicateKey(body, "error_msg") || refHasDuplicateKey(body, "error_code"); got != want {
			t.Fatalf("%q: duplicates scanner %v, encoding/json %v", body, got, want)
		}
	})
}

// FuzzCatalogLoad: any catalog file, JSON or YAML, either loads into
// entries that keep the catalog's promises or fails with an error that
// names the file; it never panics.
func FuzzCatalogLoad(f *testing.F) {
	for _, seed := range []string{
		`{"language":"en","errors":[{"code":"A.1","status":404,"message":"Nope.","messages":{"zh-CN":"不。"},"upstream_codes":["NF"],"statuses":["404","5xx"]}]}`,
		`{"errors":[{"code":"A.1","status":"404"}]}`,
		`{"errors":[]} trailing`,
		"language: zh-CN\nerrors:\n  - {code: A.1, status: 400, message: x, messages: {en: y}, statuses: [400-499]}\n",
		"errors:\n  - &a {code: A.1}\n  - *a\n",
		`{"errors":[{"code":"A.1","status":404,"message":"x","type":"%zz"}]}`,
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content string, asJSON bool) {
		name := filepath.Join(dir, "c.yaml")
		if asJSON {
			name = filepath.Join(dir, "c.json")
		}
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := loadCatalogs([]string{name})
		if err != nil {
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, e := range c.entries {
			if e.code == "" || e.status < minStatus || e.status > maxStatus || strings.TrimSpace(e.texts[0].s) == "" {
				t.Fatalf("loaded a bad entry %+v", e)
			}
			if e.langs != nil && len(e.langs.tags) != len(e.texts) {
				t.Fatalf("entry %s: %d languages, %d texts", e.code, len(e.langs.tags), len(e.texts))
			}
		}
		h := Handler{Catalogs: []string{name}}
		if err := h.compile(); err != nil && !strings.Contains(err.Error(), "code_pattern") {
			t.Fatalf("a catalog that loads does not compile: %v", err)
		}
	})
}

// FuzzLanguagePick: whatever the client's X-Language and Accept-Language,
// the choice is one of the entry's languages, and the envelope stays
// valid JSON with that language's message.
func FuzzLanguagePick(f *testing.F) {
	for _, seed := range [][2]string{
		{"zh-cn", ""}, {"", "fr;q=0.9, zh-CN;q=0.8"}, {"", "*"}, {"ZH", "en"}, {"", "zh;q=0, de"},
		{"x-klingon", "en;q=abc"}, {"", "zh-Hant-TW, en;q=0.1"}, {"\x00", strings.Repeat("a-", 300)},
	} {
		f.Add(seed[0], seed[1])
	}
	sets := langSets{}
	en := language.Make("en")
	entry := &catalogEntry{code: "A.1", status: 404, texts: []template{newTemplate("Nope.")}}
	tags := []language.Tag{language.Make("zh-CN"), language.Make("de"), language.Make("pt-BR")}
	entry.langs = sets.get(sortedTags(en, tags))
	for _, t := range entry.langs.tags[1:] {
		entry.texts = append(entry.texts, newTemplate("msg-"+t.String()))
	}
	f.Fuzz(func(t *testing.T, xLanguage, acceptLanguage string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if xLanguage != "" {
			r.Header["X-Language"] = []string{xLanguage}
		}
		if acceptLanguage != "" {
			r.Header["Accept-Language"] = []string{acceptLanguage}
		}
		i := entry.langs.pick(r)
		if i < 0 || i >= len(entry.texts) {
			t.Fatalf("pick = %d of %d languages", i, len(entry.texts))
		}
		msg, lang := entry.message(r)
		if lang != entry.langs.names[i] || msg.s != entry.texts[i].s {
			t.Fatalf("message %q in %v, want language %d", msg.s, lang, i)
		}
	})
}

// rewriteOf is the envelope h writes for status when the upstream said up.
func rewriteOf(h *Handler, status int, up upstreamWords) []byte {
	d := decision{status: status}
	h.policy.choose(&d, up, nil, nil)
	if d.body != nil {
		return d.body
	}
	return h.policy.appendEnvelope(nil, d.msg, d.code, d.requestID, nil)
}
