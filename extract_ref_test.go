package errenvelope

// The reference model of the JSON extraction: the same rules written with
// encoding/json, one level at a time. FuzzScanMatchesReference checks the
// single-pass scanner against it.

import (
	"bytes"
	"encoding/json"
	"strings"
)

// refObject is a JSON object decoded one level deep; members are decoded
// only when asked for.
type refObject map[string]json.RawMessage

// refParseObject decodes body when it is exactly one JSON object (whitespace
// around it allowed). ok is false for any other JSON value; err is set
// when body is not valid JSON at all (this includes trailing bytes and
// nesting deeper than encoding/json's limit).
func refParseObject(body []byte) (obj refObject, ok bool, err error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if !json.Valid(body) {
			return nil, false, errRefInvalidJSON
		}
		return nil, false, nil
	}
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, false, err
	}
	return obj, true, nil
}

type refJSONError string

func (e refJSONError) Error() string { return string(e) }

const errRefInvalidJSON = refJSONError("invalid JSON")

// refHasDuplicateKey reports whether the top-level object in body has key
// more than once. Decoders disagree on which one wins, so such an
// envelope means different things to different clients.
func refHasDuplicateKey(body []byte, key string) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if k, _ := tok.(string); k == key {
			if seen++; seen > 1 {
				return true
			}
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}

// str returns the member key when it is a JSON string.
func (o refObject) str(key string) (string, bool) {
	raw, found := o[key]
	if !found || len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// nonEmpty returns the first of keys that is a non-empty string.
func (o refObject) nonEmpty(keys ...string) string {
	for _, k := range keys {
		if s, _ := o.str(k); strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// object returns the member key when it is a JSON object.
func (o refObject) object(key string) refObject {
	raw, found := o[key]
	if !found || len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var sub refObject
	if json.Unmarshal(raw, &sub) != nil {
		return nil
	}
	return sub
}

// firstObject returns the first element of the member key when it is a
// JSON array whose first element is an object.
func (o refObject) firstObject(key string) refObject {
	raw, found := o[key]
	if !found || len(raw) == 0 || raw[0] != '[' {
		return nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil || len(list) == 0 || len(list[0]) == 0 || list[0][0] != '{' {
		return nil
	}
	var first refObject
	if json.Unmarshal(list[0], &first) != nil {
		return nil
	}
	return first
}

// code returns the first of keys that is a string fit to be an error
// code. Numbers are never codes: a numeric "code" is usually the status.
func (o refObject) code(keys ...string) string {
	for _, k := range keys {
		if s, _ := o.str(k); isPlausibleCode(s) {
			return s
		}
	}
	return ""
}

// refWordsFromJSON recognises the error shapes of the frameworks and APIs
// that gateways commonly front (see docs/choosing.md's table).
func refWordsFromJSON(o refObject) upstreamWords {
	var w upstreamWords
	nested := o.object("error")      // Google, Azure, OData, nested envelope
	first := o.firstObject("errors") // JSON:API, GraphQL
	w.errorCode = o.code("error_code")
	if w.errorCode == "" && nested != nil {
		w.errorCode = nested.code("error_code")
	}

	w.msg = o.nonEmpty("error_msg")
	if w.msg == "" && nested != nil {
		w.msg = nested.nonEmpty("error_msg", "message", "Message")
	}
	if w.msg == "" {
		w.msg = o.nonEmpty("message", "Message", "detail")
	}
	if w.msg == "" {
		if d := o.firstObject("detail"); d != nil { // FastAPI validation errors
			w.msg = d.nonEmpty("msg")
		}
	}
	if w.msg == "" {
		w.msg = o.nonEmpty("title", "error_description")
	}
	if w.msg == "" && first != nil {
		w.msg = first.nonEmpty("detail", "message", "title")
	}
	if w.msg == "" {
		// "error" last: Spring Boot's reason phrase, OAuth2's bare code.
		w.msg = o.nonEmpty("errorMessage", "msg", "error")
	}

	w.code = w.errorCode
	if w.code == "" && nested != nil {
		w.code = nested.code("code", "status", "Code")
	}
	if w.code == "" {
		w.code = o.code("code", "Code")
	}
	if w.code == "" {
		if t := o.code("__type"); t != "" { // AWS: "namespace#ShapeName"
			w.code = t[strings.LastIndexByte(t, '#')+1:]
		}
	}
	if w.code == "" && first != nil {
		w.code = first.code("code")
	}
	if w.code == "" {
		w.code = o.code("errorCode")
	}
	if w.code == "" {
		// OAuth2 puts its code in "error"; Spring Boot puts a reason
		// phrase there next to a numeric "status", which is no code.
		if _, spring := o["status"]; !spring || !refIsNumber(o["status"]) {
			w.code = o.code("error")
		}
	}
	return w
}

func refIsNumber(raw json.RawMessage) bool {
	return len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'))
}
