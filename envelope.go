package errenvelope

import (
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
)

// template is a configured string that may hold Caddy placeholders.
// Strings without a brace are never handed to the replacer.
type template struct {
	s       string
	dynamic bool
	// key is the placeholder when the whole string is one, like
	// {http.request.uuid}: its value is read without parsing s.
	key string
}

func newTemplate(s string) template {
	t := template{s: s, dynamic: strings.ContainsRune(s, '{')}
	if inner, ok := strings.CutPrefix(s, "{"); ok && strings.HasSuffix(inner, "}") && !strings.ContainsAny(inner[:len(inner)-1], "{}\\") {
		t.key = inner[:len(inner)-1]
	}
	return t
}

// render replaces the placeholders Caddy knows and leaves other braces as
// they are, so a literal "{" in a configured message survives.
func (t template) render(repl *caddy.Replacer) string {
	if !t.dynamic || repl == nil {
		return t.s
	}
	if t.key != "" {
		if v, ok := repl.GetString(t.key); ok {
			return v
		}
		return t.s // unknown: left as written, as ReplaceKnown does
	}
	return repl.ReplaceKnown(t.s, "")
}

// compiledField is an extra member with its name already encoded as
// `,"name":`.
type compiledField struct {
	key   []byte
	value template
}

func compileField(f Field) compiledField {
	key := append([]byte{','}, appendJSONString(nil, f.Name)...)
	return compiledField{key: append(key, ':'), value: newTemplate(f.Value)}
}

// appendEnvelope encodes an envelope and the configured fields as
// compact JSON, keys in the order the contract gives. It is hand-written
// so that the hot path of a rewrite uses no reflection.
func (p *policy) appendEnvelope(dst []byte, msg, code, requestID string, repl *caddy.Replacer) []byte {
	return p.appendMembers(append(dst, '{'), msg, code, requestID, repl)
}

// appendMembers encodes the envelope's members and the closing brace.
func (p *policy) appendMembers(dst []byte, msg, code, requestID string, repl *caddy.Replacer) []byte {
	dst = appendCodeAndMessage(dst, msg, code)
	dst = appendRequestID(dst, requestID)
	return p.appendFields(dst, repl)
}

// appendCodeAndMessage encodes the members every envelope starts with.
func appendCodeAndMessage(dst []byte, msg, code string) []byte {
	dst = append(dst, `"error_msg":`...)
	dst = appendJSONString(dst, msg)
	dst = append(dst, `,"error_code":`...)
	return appendJSONString(dst, code)
}

// appendRequestID encodes the request_id member, when there is one.
func appendRequestID(dst []byte, requestID string) []byte {
	if requestID == "" {
		return dst
	}
	dst = append(dst, `,"request_id":`...)
	return appendJSONString(dst, requestID)
}

// appendFields encodes the configured fields and the closing brace.
func (p *policy) appendFields(dst []byte, repl *caddy.Replacer) []byte {
	for _, f := range p.fields {
		dst = append(dst, f.key...)
		dst = appendJSONString(dst, f.value.render(repl))
	}
	return append(dst, '}')
}

// staticEnvelope is the envelope of one status, encoded once, in one
// language or one per language when its message is a localized catalog
// message: whole, and in parts around the request ID (whose value each
// response has its own) for the envelope and for problem details.
type staticEnvelope struct {
	msgs      []string // the message in each language
	langNames []string // its Content-Language; "" where it is not a translation
	bodies    [][]byte // the whole envelope, without a request ID
	lengths   []string // the Content-Length of each body
	heads     [][]byte // the envelope up to its request ID
	problems  [][]byte // problem details up to their request ID (problem_details on)
	tail      []byte   // the fields and the closing brace
	langs     *langSet
}

// pick returns the index of the body for the client's language, and that
// language when the message is localized.
func (s *staticEnvelope) pick(r *http.Request) (int, string) {
	if s.langs == nil {
		return 0, s.langNames[0]
	}
	i := s.langs.pick(r)
	return i, s.langNames[i]
}

// body returns the body of language i in the given form, with the request
// ID when there is one; its Content-Length is "" when not known yet.
func (s *staticEnvelope) body(i, format int, requestID string) ([]byte, string) {
	if format == formatJSON && requestID == "" {
		return s.bodies[i], s.lengths[i]
	}
	head := s.heads[i]
	if format == formatProblem {
		head = s.problems[i]
	}
	b := make([]byte, 0, len(head)+len(requestID)+16+len(s.tail))
	b = appendRequestID(append(b, head...), requestID)
	return append(b, s.tail...), ""
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD; control characters, U+2028 and U+2029 are escaped, so the
// result is valid JSON and safe inside a script.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// cleanMessage makes text fit for error_msg: surrounding space trimmed,
// runs of spaces, newlines and control characters folded to one space,
// invalid UTF-8 replaced, and the result cut to max_message characters.
// It returns "" when nothing is left, which then does not count as a
// message.
func (p *policy) cleanMessage(s string) string {
	if isCleanMessage(s, p.maxMessage) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), 4*p.maxMessage))
	n := 0
	pendingSpace := false
	for _, r := range s { // ranging over a string yields U+FFFD for invalid bytes
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			pendingSpace = b.Len() > 0
			continue
		}
		if pendingSpace {
			if n+1 >= p.maxMessage {
				break
			}
			b.WriteByte(' ')
			n++
			pendingSpace = false
		}
		if n >= p.maxMessage {
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// isCleanMessage is the fast path of cleanMessage: printable ASCII with
// single inner spaces, within the length limit, needs no copy.
func isCleanMessage(s string, limit int) bool {
	if s == "" || len(s) > limit || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || (c == ' ' && s[i+1] == ' ') {
			return false
		}
	}
	return true
}
