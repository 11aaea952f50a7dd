package errenvelope

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// upstreamWords is what an upstream error body says about itself.
type upstreamWords struct {
	msg       string // its message, uncleaned; "" when it has none
	code      string // the code found in it, matched against map_code
	errorCode string // its own error_code (flat or under "error"), for step 2
}

// str returns the member k when it is a JSON string.
func (o *jsonObject) str(k int) (string, bool) {
	if o == nil || o.m[k].kind != '"' {
		return "", false
	}
	return o.m[k].s, true
}

// nonEmpty returns the first of keys that is a non-blank string.
func (o *jsonObject) nonEmpty(keys ...int) string {
	for _, k := range keys {
		if s, _ := o.str(k); strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// object returns the member k when it is a JSON object.
func (o *jsonObject) object(k int) *jsonObject {
	if o == nil || o.m[k].kind != '{' {
		return nil
	}
	return o.m[k].obj
}

// firstObject returns the first element of the member k when it is an
// array whose first element is an object.
func (o *jsonObject) firstObject(k int) *jsonObject {
	if o == nil || o.m[k].kind != '[' {
		return nil
	}
	return o.m[k].obj
}

// code returns the first of keys that is a string fit to be an error
// code. Numbers are never codes: a numeric "code" is usually the status.
func (o *jsonObject) code(keys ...int) string {
	for _, k := range keys {
		if s, _ := o.str(k); isPlausibleCode(s) {
			return s
		}
	}
	return ""
}

// hasDuplicates reports error_msg or error_code appearing twice at the top
// level: decoders disagree on which one wins, so such an envelope means
// different things to different clients.
func (o *jsonObject) hasDuplicates() bool { return o.seenMsg > 1 || o.seenCode > 1 }

// maxCodeLen bounds what is taken for a code: longer strings are prose.
const maxCodeLen = 128

func isPlausibleCode(s string) bool {
	if s == "" || len(s) > maxCodeLen || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return strings.TrimSpace(s) == s
}

// wordsFromJSON recognises the error shapes of the frameworks and APIs
// that gateways commonly front (see docs/choosing.md's table).
func wordsFromJSON(o *jsonObject) upstreamWords {
	var w upstreamWords
	nested := o.object(kError)      // Google, Azure, OData, nested envelope
	first := o.firstObject(kErrors) // JSON:API, GraphQL
	w.errorCode = o.code(kErrorCode)
	if w.errorCode == "" && nested != nil {
		w.errorCode = nested.code(kErrorCode)
	}

	w.msg = o.nonEmpty(kErrorMsg)
	if w.msg == "" && nested != nil {
		w.msg = nested.nonEmpty(kErrorMsg, kMessage, kMessageTitle)
	}
	if w.msg == "" {
		w.msg = o.nonEmpty(kMessage, kMessageTitle, kDetail)
	}
	if w.msg == "" {
		if d := o.firstObject(kDetail); d != nil { // FastAPI validation errors
			w.msg = d.nonEmpty(kMsg)
		}
	}
	if w.msg == "" {
		w.msg = o.nonEmpty(kTitle, kErrorDescription)
	}
	if w.msg == "" && first != nil {
		w.msg = first.nonEmpty(kDetail, kMessage, kTitle)
	}
	if w.msg == "" {
		// "error" last: Spring Boot's reason phrase, OAuth2's bare code.
		w.msg = o.nonEmpty(kErrorMessage, kMsg, kError)
	}

	w.code = w.errorCode
	if w.code == "" && nested != nil {
		w.code = nested.code(kCode, kStatus, kCodeTitle)
	}
	if w.code == "" {
		w.code = o.code(kCode, kCodeTitle)
	}
	if w.code == "" {
		if t := o.code(kType); t != "" { // AWS: "namespace#ShapeName"
			w.code = t[strings.LastIndexByte(t, '#')+1:]
		}
	}
	if w.code == "" && first != nil {
		w.code = first.code(kCode)
	}
	if w.code == "" {
		w.code = o.code(kErrorCodeCamel)
	}
	if w.code == "" {
		// OAuth2 puts its code in "error"; Spring Boot puts a reason
		// phrase there next to a numeric "status", which is no code.
		if o.m[kStatus].kind != '0' {
			w.code = o.code(kError)
		}
	}
	return w
}

// maxTextMessage is the longest plain-text body taken as a message: a
// one-line http.Error or proxy message, never a page or a stack trace.
const maxTextMessage = 256

// wordsFromText takes a short, single-line plain-text body as the message.
// Markup sent as text/plain (an error page mislabelled, as Caddy's own
// respond does by default) is still a page, not a message.
func wordsFromText(body []byte) upstreamWords {
	t := bytes.TrimSpace(body)
	if len(t) == 0 || len(t) > maxTextMessage || t[0] == '<' || bytes.IndexByte(t, '\n') >= 0 || bytes.IndexByte(t, '\r') >= 0 {
		return upstreamWords{}
	}
	return upstreamWords{msg: string(t)}
}
