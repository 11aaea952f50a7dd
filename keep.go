package errenvelope

// keep_body: what the upstream really said, for the access log and the
// logs, never for the client.

import (
	"net/http"
	"strings"
	"unicode/utf8"
)

// keptText is keep_body's record of an upstream error body: at most
// keep_body bytes of it, decoded, as valid UTF-8. decoded is the body as
// examined, nil when it was not decoded (over max_body, a corrupt or
// unknown coding); held is then what is held of it, raw, and its first
// bytes are decoded here as far as they go.
func (p *policy) keptText(hdr http.Header, decoded, held []byte) string {
	body := decoded
	if body == nil {
		body = held
		if ce := headerValue(hdr, "Content-Encoding"); ce != "" && len(held) > 0 {
			if out, _ := decodeBody(held, ce, p.keepBody); len(out) > 0 {
				body = out
			}
		}
	}
	if p.scrub.kept == 0 {
		return validPrefix(body, p.keepBody)
	}
	// Scrubbed before the cut, over a margin past it, so that the cut
	// leaves no part of a secret (a key's first bytes) that it made
	// unrecognisable.
	text, _ := p.scrub.scrub(validPrefix(body, p.keepBody+keptMargin), p.scrub.kept)
	text = validPrefix([]byte(text), p.keepBody)
	if len(body) >= p.keepBody && len(body) < p.keepBody+keptMargin && decoded == nil {
		// Only the first bytes were held: no margin past the cut exists,
		// so a credential-like word the cut ends in goes too.
		text = dropCutCredential(text)
	}
	return text
}

// dropCutCredential removes the word text ends in when it looks like the
// start of a credential (ghp_FAKE0000…, AKIAIOSFODNN7E).
func dropCutCredential(text string) string {
	i := len(text)
	for i > 0 && is(text[i-1], clB64) {
		i--
	}
	if credentialLike(text[i:]) {
		return text[:i]
	}
	return text
}

// keptMargin is how far past keep_body a kept text is scrubbed: longer
// than any credential whose start alone is recognisable.
const keptMargin = 1024

// validPrefix returns at most n bytes of b as a string of valid UTF-8: cut
// at a character boundary, invalid bytes replaced by U+FFFD.
func validPrefix(b []byte, n int) string {
	if len(b) > n {
		// Back off over the bytes of a character the cut would split.
		cut := n
		for i := 1; i < utf8.UTFMax && cut > 0 && !utf8.RuneStart(b[cut]); i++ {
			cut--
		}
		if !utf8.RuneStart(b[cut]) {
			cut = n // no character starts there: invalid bytes, replaced below
		}
		b = b[:cut]
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
