package errenvelope

// Problem details on request (SPEC §11.3): with problem_details on, a
// client whose Accept ranks application/problem+json above
// application/json gets RFC 9457 problem details that carry the envelope's
// members too.

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

const problemType = "application/problem+json"

// prefersProblem reports whether Accept ranks application/problem+json
// above application/json by q value. A tie, `*/*` alone or no Accept
// mean the envelope.
func prefersProblem(accept []string) bool {
	if len(accept) == 0 {
		return false
	}
	return acceptQ(accept, "application", "problem+json") > acceptQ(accept, "application", "json")
}

// acceptQ is the q value Accept gives a media type: that of its most
// specific matching range (type/subtype, then type/*, then */*), 0 when
// none matches. It reads the header in place, without allocating.
func acceptQ(accept []string, typ, sub string) float64 {
	best, bestRank := 0.0, -1
	for _, v := range accept {
		for v != "" {
			var rng string
			rng, v, _ = strings.Cut(v, ",")
			mr, params, _ := strings.Cut(rng, ";")
			t, s, _ := strings.Cut(strings.TrimSpace(mr), "/")
			rank := -1
			switch {
			case strings.EqualFold(t, typ) && strings.EqualFold(s, sub):
				rank = 2
			case strings.EqualFold(t, typ) && s == "*":
				rank = 1
			case t == "*" && s == "*":
				rank = 0
			}
			if rank <= bestRank {
				continue
			}
			best, bestRank = qOf(params), rank
		}
	}
	return best
}

// qOf reads the q parameter of an Accept range; 1 when absent or bad.
func qOf(params string) float64 {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || q < 0 || q > 1 {
				return 1
			}
			return q
		}
	}
	return 1
}

// problemType is the problem `type` of code at status: the type of the
// catalog entry of the code for the status, else of the entry whose
// message is sent (via), else of the code's first entry; about:blank when
// that entry has none.
func (p *policy) problemType(code string, status int, via *catalogEntry) string {
	if e := p.rules.catalog.entryOr(code, status, via); e != nil && e.typ != "" {
		return e.typ
	}
	if p.typeBase != "" {
		return p.typeOf(code)
	}
	return "about:blank"
}

// typeOf is type_base's problem type of code: its reference row, the code
// escaped as a URL's fragment (a code may hold a space or a '#').
func (p *policy) typeOf(code string) string {
	return p.typeBase + "#" + (&url.URL{Fragment: code}).EscapedFragment()
}

// appendProblem encodes the problem details of a rewrite: type, title,
// status, detail, then the envelope's members.
func (p *policy) appendProblem(dst []byte, status int, msg, code, typ, requestID string, repl *caddy.Replacer) []byte {
	return p.appendMembers(appendProblemStart(dst, status, msg, typ), msg, code, requestID, repl)
}

// appendProblemStart encodes the members problem details start with,
// before the envelope's own.
func appendProblemStart(dst []byte, status int, msg, typ string) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendJSONString(dst, typ)
	dst = append(dst, `,"title":`...)
	dst = appendJSONString(dst, reasonPhrase(status))
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, `,"detail":`...)
	dst = appendJSONString(dst, msg)
	return append(dst, ',')
}
