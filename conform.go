package errenvelope

// The conformance check (SPEC §3, §10.3, §11.3): whether a held error
// response already is what the client reads, and when it is not, what
// the upstream said in it (§4.1).

import (
	"bytes"
	"errors"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// verdict is the outcome of examining one held error response.
type verdict struct {
	reason string
	words  upstreamWords
	code   string // a conforming envelope's error_code
	msg    string // and its error_msg
	detail string // and, as problem details, its detail
	size   int    // decoded body size, for the log
	body   []byte // the decoded body, for keep_body; valid until the held body is dropped
}

// examine decides whether a held error response conforms for a client
// that reads errors in format and, when it does not, what the upstream
// said in it. A client that asked for problem details reads
// application/problem+json; an envelope in application/json then
// conforms in all but its form (reason format).
func (p *policy) examine(hdr http.Header, body []byte, tooLarge, head bool, format int) verdict {
	if tooLarge {
		return verdict{reason: reasonTooLarge}
	}
	want := "application/json"
	if format == formatProblem {
		want = problemType
	}
	mt := mediaType(headerValue(hdr, "Content-Type"))
	isJSON := mt == want || (want == problemType && mt == "application/json")
	if head {
		if isJSONType(mt) {
			return verdict{reason: reasonHead}
		}
		return verdict{reason: reasonNotJSON}
	}
	if ce := headerValue(hdr, "Content-Encoding"); ce != "" {
		decoded, err := decodeBody(body, ce, p.maxBody)
		switch {
		case errors.Is(err, errTooLarge):
			return verdict{reason: reasonTooLarge}
		case err != nil:
			return verdict{reason: reasonBadEncoding}
		}
		body = decoded
	}
	v := verdict{size: len(body), body: body}
	if len(bytes.TrimSpace(body)) == 0 {
		v.reason = reasonEmpty
		return v
	}
	switch {
	case isJSONType(mt):
		obj, isObject, err := parseObject(body)
		switch {
		case err != nil:
			v.reason = reasonInvalidJSON
			return v
		case !isObject:
			v.reason = reasonNotObject
			return v
		}
		v.words = wordsFromJSON(obj)
		if !isJSON {
			v.reason = reasonNotJSON
			return v
		}
		msg, _ := obj.str(kErrorMsg)
		code, _ := obj.str(kErrorCode)
		switch {
		case msg == "" || code == "":
			v.reason = reasonMissingFields
		case obj.hasDuplicates():
			v.reason = reasonDuplicate
		case p.codeRE != nil && !p.codeRE.MatchString(code):
			v.reason = reasonCodePattern
		case p.unknown && !p.rules.catalog.has(code):
			v.reason = reasonUnknownCode
		case mt != want:
			v.reason, v.code, v.msg = reasonFormat, code, msg
		default:
			v.reason, v.code, v.msg = reasonConforming, code, msg
			if mt == problemType {
				v.detail, _ = obj.str(kDetail)
			}
		}
		return v
	case mt == "text/plain":
		v.reason = reasonNotJSON
		// A JSON error sent as text/plain still says what it means.
		if t := bytes.TrimSpace(body); t[0] == '{' {
			if obj, isObject, err := parseObject(t); err == nil && isObject {
				v.words = wordsFromJSON(obj)
				return v
			}
		}
		v.words = wordsFromText(body)
		return v
	}
	// HTML, XML and everything else: error pages carry stack traces and
	// server banners, so nothing of them is used.
	v.reason = reasonNotJSON
	return v
}

// unheldReason reports an examined response that is never held: one that
// asks intermediaries not to hold it, or a gRPC one.
func unheldReason(hdr http.Header) string {
	if caddyhttp.IsIncremental(hdr) {
		return reasonStream
	}
	switch mt := mediaType(headerValue(hdr, "Content-Type")); {
	case mt == "text/event-stream":
		return reasonStream
	case isGRPCType(mt):
		return reasonGRPC
	}
	return ""
}

// mediaType is the lower-cased type/subtype of a Content-Type value.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	for i := 0; i < len(ct); i++ {
		if c := ct[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(ct)
		}
	}
	return ct
}

// isJSONType reports JSON media types: application/json and its kin
// (application/problem+json, application/vnd.api+json, text/json,
// application/x-amz-json-1.1, …).
func isJSONType(mt string) bool {
	_, sub, _ := strings.Cut(mt, "/")
	return sub == "json" || strings.HasSuffix(sub, "+json") || strings.Contains(sub, "-json") // application/x-amz-json-1.1
}

// headerValue is hdr.Get for a key already in canonical form, without
// canonicalising it again on every error response.
func headerValue(hdr http.Header, canonicalKey string) string {
	if v := hdr[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}
