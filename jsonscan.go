package errenvelope

// A single-pass JSON reader for error bodies: it validates the whole body
// as encoding/json would (same grammar, same 10 000-level nesting limit,
// same last-wins for duplicate keys, same U+FFFD for bad UTF-8 and lone
// surrogates) and, in the same pass, keeps only the members the handler
// reads. No reflection, no map, and a string is copied only when kept.

import (
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

var errInvalidJSON = errors.New("invalid JSON")

// The members read from an error body, at the top level and one level
// down (under "error", and in the first element of "errors" or "detail").
const (
	kErrorMsg = iota
	kErrorCode
	kMessage
	kMessageTitle // "Message"
	kDetail
	kTitle
	kErrorDescription
	kErrorMessage // "errorMessage"
	kMsg
	kError
	kCode
	kCodeTitle // "Code"
	kType      // "__type"
	kErrorCodeCamel
	kStatus
	kErrors
	numKeys
)

func keyIndex(key []byte) int {
	switch string(key) { // compiled to comparisons: no allocation
	case "error_msg":
		return kErrorMsg
	case "error_code":
		return kErrorCode
	case "message":
		return kMessage
	case "Message":
		return kMessageTitle
	case "detail":
		return kDetail
	case "title":
		return kTitle
	case "error_description":
		return kErrorDescription
	case "errorMessage":
		return kErrorMessage
	case "msg":
		return kMsg
	case "error":
		return kError
	case "code":
		return kCode
	case "Code":
		return kCodeTitle
	case "__type":
		return kType
	case "errorCode":
		return kErrorCodeCamel
	case "status":
		return kStatus
	case "errors":
		return kErrors
	}
	return -1
}

// member is a kept member: its kind (the value's first byte: '"', '{',
// '[', '0' for numbers, 'l' for true/false/null), its decoded string, and
// the object under it when one was kept.
type member struct {
	kind byte
	s    string
	obj  *jsonObject
}

// jsonObject holds the kept members of one object.
type jsonObject struct {
	m [numKeys]member
	// how often error_msg and error_code appear (at the top level)
	seenMsg, seenCode int
}

const maxJSONDepth = 10000 // encoding/json's limit

// parseObject reads body in one pass. ok is true when body is exactly one
// JSON object (whitespace around it allowed); err is set when body is not
// valid JSON at all (truncated, trailing bytes, too deep, …).
func parseObject(body []byte) (obj *jsonObject, ok bool, err error) {
	s := jsonScanner{data: body}
	s.space()
	if s.i < len(s.data) && s.data[s.i] == '{' {
		obj = new(jsonObject)
		s.i++
		err = s.object(1, obj, true)
	} else {
		err = s.value(0, nil, false)
	}
	if err == nil {
		if s.space(); s.i != len(s.data) {
			err = errInvalidJSON
		}
	}
	if err != nil {
		return nil, false, err
	}
	return obj, obj != nil, nil
}

type jsonScanner struct {
	data []byte
	i    int
}

func (s *jsonScanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value reads one value. into, when set, receives its kind and string;
// keep also keeps an object value (or an array's first object) under it.
func (s *jsonScanner) value(depth int, into *member, keep bool) error {
	s.space()
	if s.i >= len(s.data) {
		return errInvalidJSON
	}
	c := s.data[s.i]
	if into != nil {
		*into = member{kind: c}
	}
	switch {
	case c == '{':
		s.i++
		var obj *jsonObject
		if keep && into != nil {
			obj = new(jsonObject)
			into.obj = obj
		}
		return s.object(depth+1, obj, false)
	case c == '[':
		s.i++
		return s.array(depth+1, into, keep)
	case c == '"':
		str, err := s.str(into != nil)
		if into != nil {
			into.s = str
		}
		return err
	case c == 't':
		return s.literal("true", into)
	case c == 'f':
		return s.literal("false", into)
	case c == 'n':
		return s.literal("null", into)
	case c == '-' || (c >= '0' && c <= '9'):
		if into != nil {
			into.kind = '0'
		}
		return s.number()
	}
	return errInvalidJSON
}

// object reads the members of an object whose '{' was consumed, keeping
// those of interest in into (when set). children keeps objects one level
// further down.
func (s *jsonScanner) object(depth int, into *jsonObject, children bool) error {
	if empty, err := s.enter(depth, '}'); empty || err != nil {
		return err
	}
	for {
		s.space()
		if s.i >= len(s.data) || s.data[s.i] != '"' {
			return errInvalidJSON
		}
		idx := -1
		start := s.i + 1
		escaped, err := s.skipString()
		if err != nil {
			return err
		}
		if into != nil {
			if !escaped {
				idx = keyIndex(s.data[start : s.i-1])
			} else {
				idx = keyIndex([]byte(unquote(s.data[start : s.i-1])))
			}
		}
		s.space()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return errInvalidJSON
		}
		s.i++
		var slot *member
		if idx >= 0 {
			slot = &into.m[idx]
			switch idx {
			case kErrorMsg:
				into.seenMsg++
			case kErrorCode:
				into.seenCode++
			}
		}
		if err := s.value(depth, slot, children && (idx == kError || idx == kErrors || idx == kDetail)); err != nil {
			return err
		}
		if done, err := s.next('}'); done || err != nil {
			return err
		}
	}
}

// array reads the elements of an array whose '[' was consumed. When keep
// is set and its first element is an object, that object is kept in into.
func (s *jsonScanner) array(depth int, into *member, keep bool) error {
	if empty, err := s.enter(depth, ']'); empty || err != nil {
		return err
	}
	for n := 0; ; n++ {
		var first *member
		var elem member
		if n == 0 && keep && into != nil {
			first = &elem
		}
		if err := s.value(depth, first, true); err != nil {
			return err
		}
		if first != nil && elem.kind == '{' {
			into.obj = elem.obj
		}
		if done, err := s.next(']'); done || err != nil {
			return err
		}
	}
}

// enter starts an object or array whose opening bracket was consumed: it
// enforces the nesting limit and consumes closer when nothing comes first.
func (s *jsonScanner) enter(depth int, closer byte) (empty bool, err error) {
	if depth > maxJSONDepth {
		return false, errInvalidJSON
	}
	s.space()
	if s.i < len(s.data) && s.data[s.i] == closer {
		s.i++
		return true, nil
	}
	return false, nil
}

// next consumes what follows a member or element: a comma (more to come)
// or closer (done).
func (s *jsonScanner) next(closer byte) (done bool, err error) {
	s.space()
	if s.i >= len(s.data) {
		return false, errInvalidJSON
	}
	switch s.data[s.i] {
	case ',':
		s.i++
		return false, nil
	case closer:
		s.i++
		return true, nil
	}
	return false, errInvalidJSON
}

// str reads a string at s.i, decoding it when want is set.
func (s *jsonScanner) str(want bool) (string, error) {
	start := s.i + 1
	escaped, err := s.skipString()
	if err != nil || !want {
		return "", err
	}
	raw := s.data[start : s.i-1]
	if !escaped && utf8.Valid(raw) {
		return string(raw), nil
	}
	return unquote(raw), nil
}

// skipString validates the string at s.i (its opening quote) and moves
// past its closing quote. escaped reports a backslash inside.
func (s *jsonScanner) skipString() (escaped bool, err error) {
	s.i++
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '"':
			s.i++
			return escaped, nil
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.data) {
				return escaped, errInvalidJSON
			}
			switch s.data[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.data) || hex4(s.data[s.i+2:s.i+6]) < 0 {
					return escaped, errInvalidJSON
				}
				s.i += 6
			default:
				return escaped, errInvalidJSON
			}
		case c < 0x20:
			return escaped, errInvalidJSON
		default:
			s.i++
		}
	}
	return escaped, errInvalidJSON
}

func (s *jsonScanner) literal(word string, into *member) error {
	if len(s.data)-s.i < len(word) || string(s.data[s.i:s.i+len(word)]) != word {
		return errInvalidJSON
	}
	s.i += len(word)
	if into != nil {
		into.kind = 'l'
	}
	return nil
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScanner) number() error {
	d := s.data
	if s.i < len(d) && d[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(d) && d[s.i] == '0':
		s.i++
	case s.i < len(d) && d[s.i] >= '1' && d[s.i] <= '9':
		s.digits()
	default:
		return errInvalidJSON
	}
	if s.i < len(d) && d[s.i] == '.' {
		s.i++
		if !s.digits() {
			return errInvalidJSON
		}
	}
	if s.i < len(d) && (d[s.i] == 'e' || d[s.i] == 'E') {
		s.i++
		if s.i < len(d) && (d[s.i] == '+' || d[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return errInvalidJSON
		}
	}
	return nil
}

func (s *jsonScanner) digits() bool {
	start := s.i
	for s.i < len(s.data) && s.data[s.i] >= '0' && s.data[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// unquote decodes the inside of a validated JSON string as encoding/json
// does: escapes resolved, a valid surrogate pair joined, a lone surrogate
// and each invalid UTF-8 byte turned into U+FFFD.
func unquote(raw []byte) string {
	out := make([]byte, 0, len(raw)+8)
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			switch raw[i+1] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := hex4(raw[i+2 : i+6])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						if r2 := hex4(raw[i+2 : i+6]); r2 >= 0 {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								out = utf8.AppendRune(out, dec)
								i += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
				continue
			default: // '"', '\\', '/'
				out = append(out, raw[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			out = utf8.AppendRune(out, r)
			i += size
		}
	}
	return string(out)
}
