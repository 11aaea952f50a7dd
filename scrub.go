package errenvelope

// Scrubbing (SPEC §14): finding secrets and internals in text that comes
// from an upstream before any of it reaches a client. Credentials,
// addresses, e-mail addresses, paths and an operator's own patterns are
// replaced where they stand; a stack trace or an SQL error withholds the
// whole message.
//
// The detectors are hand-written scanners over the text's bytes, one pass
// for all of them: a byte that can start nothing costs a table lookup.
// Every scanner either consumes what it looked at or looks at a bounded
// number of bytes, so the time is linear in the text, whatever the text.

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// detectors is a set of detectors, one bit each.
type detectors uint8

const (
	detCredentials detectors = 1 << iota
	detAddresses
	detTraces
	detSQL
	detEmails
	detPaths
	detPattern // the operator's scrub_pattern lines

	numDetectors = 7
)

// detectorNames are the names of the detectors by bit, as the scrub option
// and the logs, the placeholder and the counter write them.
var detectorNames = [numDetectors]string{"credentials", "addresses", "traces", "sql", "emails", "paths", "scrub_pattern"}

const (
	// defaultScrub is the detector set of an unset scrub.
	defaultScrub = detCredentials | detAddresses | detTraces | detSQL
	// withholding are the detectors whose find withholds the whole text.
	withholding = detTraces | detSQL
)

// redactionMark replaces what a detector finds.
const redactionMark = "[REDACTED]"

// scrubber is the compiled scrub and scrub_pattern options.
type scrubber struct {
	on detectors // detPattern set when there are patterns
	// kept is what keep_body's text goes through: credentials (unless
	// scrub is off) and the patterns; support needs the addresses and
	// traces, nobody needs passwords.
	kept     detectors
	patterns []scrubPattern
}

type scrubPattern struct {
	re   *regexp.Regexp
	mark string
}

// scrub applies the detectors of on (s.on, or s.kept) to text. It
// returns the text with every find replaced by its mark, "" when a
// withholding detector found something, and the set of detectors that
// found something. Text without a find is returned as it is; invalid
// UTF-8 becomes U+FFFD, as cleaning would make it.
func (s *scrubber) scrub(text string, on detectors) (string, detectors) {
	if on == 0 || text == "" {
		return text, 0
	}
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	x := scan{s: text, on: on}
	if on&^detPattern != 0 {
		x.run()
	}
	if on&detPattern != 0 {
		for _, p := range s.patterns {
			for _, m := range p.re.FindAllStringIndex(text, -1) {
				if m[0] == m[1] {
					continue
				}
				x.spans = append(x.spans, span{m[0], m[1], p.mark})
				x.found |= detPattern
			}
		}
	}
	switch {
	case x.found&withholding != 0:
		return "", x.found
	case len(x.spans) == 0:
		return text, x.found
	}
	return x.redact(), x.found
}

// span is a part of the text to replace by mark.
type span struct {
	lo, hi int
	mark   string
}

// scan is one pass of the detectors over one text.
type scan struct {
	s     string
	on    detectors
	found detectors
	spans []span
	// floor is where the last find ended: no find reaches back before it,
	// so the finds of the pass come in order and never overlap.
	floor int
	// hostEnd is where the last host name looked at ends: a dot before it
	// belongs to a name already judged.
	hostEnd int
	// noFrom and noSet remember that no FROM (SET) follows: a flood of
	// SELECT (UPDATE) looks for it once.
	noFrom, noSet bool
}

// add records a find of det over s[lo:hi] and returns hi, where the scan
// goes on.
func (x *scan) add(det detectors, lo, hi int) int {
	x.found |= det
	if hi > lo {
		x.spans = append(x.spans, span{lo, hi, redactionMark})
	}
	x.floor = hi
	return hi
}

// withheld records a find of a withholding detector.
func (x *scan) withheld(det detectors) { x.found |= det }

// redact returns the text with the spans replaced by their marks; spans
// that overlap (an operator's pattern over a detector's find) become one.
func (x *scan) redact() string {
	spans := x.spans
	if x.found&detPattern != 0 {
		slices.SortStableFunc(spans, func(a, b span) int { return a.lo - b.lo })
	}
	var b strings.Builder
	b.Grow(len(x.s) + len(spans)*len(redactionMark))
	at := 0
	for i := 0; i < len(spans); {
		sp := spans[i]
		hi := sp.hi
		for i++; i < len(spans) && spans[i].lo < hi; i++ {
			hi = max(hi, spans[i].hi)
		}
		if sp.lo < at { // within the previous span
			sp.lo = at
		}
		b.WriteString(x.s[at:sp.lo])
		b.WriteString(sp.mark)
		at = max(at, hi)
	}
	b.WriteString(x.s[at:])
	return b.String()
}

// Byte classes.
const (
	clWord = 1 << iota // [A-Za-z0-9_]
	clHost             // [A-Za-z0-9.-]
	clTok              // token68 of RFC 9110: [A-Za-z0-9._~+/=-]
	clB64              // base64url and JWT dots: [A-Za-z0-9_.-]
	clName             // a parameter name: [A-Za-z0-9_.-]
	clHex              // [0-9A-Fa-f]
	clTrig             // can start or mark a find
)

var class = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alnum := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
		if alnum || b == '_' {
			t[c] |= clWord
		}
		if alnum || b == '.' || b == '-' {
			t[c] |= clHost
		}
		if alnum || strings.IndexByte("._~+/=-", b) >= 0 {
			t[c] |= clTok
		}
		if alnum || b == '_' || b == '.' || b == '-' {
			t[c] |= clB64 | clName
		}
		if b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' {
			t[c] |= clHex
		}
	}
	// The punctuation that joins or opens a find (words go by wordStarts).
	for _, b := range []byte(".:=[(-@/") {
		t[b] |= clTrig
	}
	return t
}()

func is(c byte, cl uint8) bool { return class[c]&cl != 0 }

// run is the pass of the built-in detectors. A word is looked at only
// when its first two bytes can start a find, and then skipped whole:
// inside a word, only punctuation can join a find.
func (x *scan) run() {
	s := x.s
	for i := 0; i < len(s); i++ {
		c := s[i]
		cl := class[c]
		if cl&clWord != 0 {
			if i >= x.floor && (i == 0 || class[s[i-1]]&clWord == 0) && i+1 < len(s) && wordStarts[c][s[i+1]>>6]&(1<<(s[i+1]&63)) != 0 {
				if next := x.word(i); next > i {
					i = next - 1
					continue
				}
			}
			j := i + 1
			for j < len(s) && class[s[j]]&clWord != 0 {
				j++
			}
			i = j - 1
			continue
		}
		if cl&clTrig == 0 || i < x.floor {
			continue
		}
		next := -1
		switch c {
		case '.':
			next = x.dot(i)
		case ':':
			next = x.colon(i)
		case '=':
			next = x.equals(i)
		case '[':
			if x.on&detAddresses != 0 {
				next = x.ipv6(i)
			}
		case '(':
			if x.on&detTraces != 0 && x.found&detTraces == 0 &&
				(strings.HasPrefix(s[i:], "(Native Method)") || strings.HasPrefix(s[i:], "(Unknown Source)")) {
				x.withheld(detTraces)
			}
		case '-':
			if x.on&detCredentials != 0 && strings.HasPrefix(s[i:], "-----BEGIN ") {
				next = x.pem(i)
			}
		case '@':
			if x.on&detEmails != 0 {
				next = x.email(i)
			}
		case '/':
			if x.on&detPaths != 0 {
				next = x.unixPath(i)
			}
		}
		if next > i {
			i = next - 1
		}
	}
}

// wordStarts[a] is the set of bytes b (a bitmap) such that a word that
// starts with ab can start a find: every other word is skipped unread.
var wordStarts = func() (t [256][4]uint64) {
	set := func(a, b byte) { t[a][b>>6] |= 1 << (b & 63) }
	fold := func(p string) {
		for _, a := range []byte{p[0], p[0] &^ 0x20} {
			for _, b := range []byte{p[1], p[1] &^ 0x20} {
				set(a, b)
			}
		}
	}
	for _, p := range []string{
		"AK", "AS", "AI", "sk", "rk", "gh", "gi", "gl", "xo", "ey", // key formats
		"Tr", "go", "no", "at", // traces
		"SE", "IN", "DE", "Du", "UP", "OR", "sy", "vi", "Vi", "re", "co", "ne", "Ca", // sql
	} {
		set(p[0], p[1])
	}
	for _, p := range []string{"be", "ba", "to", "lo", "sq", "er"} { // schemes, localhost, SQLSTATE, error
		fold(p)
	}
	for _, b := range []byte("0123456789.") { // 10., 127., 172.16., 192.168., …
		set('1', b)
	}
	for _, b := range []byte("cdeCDE") { // fc00::/7, fe80::/10
		set('f', b)
		set('F', b)
	}
	return t
}()

// word looks at a word that starts at i. It returns where the scan goes
// on, or -1.
func (x *scan) word(i int) int {
	s := x.s
	rest := s[i:]
	on := x.on
	if on&detCredentials != 0 {
		if n := keyAt(rest); n > 0 {
			return x.add(detCredentials, i, i+n)
		}
		if n := schemeAt(rest); n > 0 {
			return x.authValue(i + n)
		}
	}
	if on&detAddresses != 0 {
		switch c := s[i]; {
		case c == '1':
			return x.ipv4(i)
		case c == 'f' || c == 'F':
			if n := x.ipv6(i); n >= 0 {
				return n
			}
		case (c == 'l' || c == 'L') && hasPrefixFold(rest, "localhost") && (len(rest) == 9 || !is(rest[9], clHost)):
			return x.add(detAddresses, i, withPort(s, i+9))
		}
	}
	if on&detTraces != 0 && x.found&detTraces == 0 && traceWordAt(rest) {
		x.withheld(detTraces)
	}
	if on&detSQL != 0 && x.found&detSQL == 0 && x.sqlWordAt(i) {
		x.withheld(detSQL)
	}
	return -1
}

// --- credentials -----------------------------------------------------------

// keyFormats are well-known credential formats: a prefix, the bytes that
// may follow it and how many at least. A key is replaced whole.
var keyFormats = []struct {
	prefix   string
	cl       uint8 // the class of the bytes after the prefix
	min, max int   // their count; max 0 for no bound
}{
	{"AKIA", 0, 16, 16}, // AWS access key IDs: upper case and digits
	{"ASIA", 0, 16, 16},
	{"AIza", clB64, 35, 35}, // Google API keys
	{"sk_live_", clWord, 10, 0},
	{"sk_test_", clWord, 10, 0},
	{"rk_live_", clWord, 10, 0},
	{"rk_test_", clWord, 10, 0},
	{"sk-", clB64, 20, 0}, // OpenAI, Anthropic and their kin
	{"ghp_", clWord, 30, 0},
	{"gho_", clWord, 30, 0},
	{"ghu_", clWord, 30, 0},
	{"ghs_", clWord, 30, 0},
	{"ghr_", clWord, 30, 0},
	{"github_pat_", clWord, 20, 0},
	{"glpat-", clB64, 20, 0},
	{"xoxa-", clB64, 10, 0}, // Slack
	{"xoxb-", clB64, 10, 0},
	{"xoxp-", clB64, 10, 0},
	{"xoxr-", clB64, 10, 0},
	{"xoxs-", clB64, 10, 0},
	{"eyJ", clB64, 10, 0}, // a JSON Web Token, or any base64url JSON object
}

// keyAt returns the length of the credential of a well-known format at the
// start of s, or 0.
func keyAt(s string) int {
	if len(s) < 3 {
		return 0
	}
	// Two bytes rule out nearly every word before the formats are read.
	switch s[1] {
	case 'K', 'S', 'I': // AKIA, ASIA, AIza
		if s[0] != 'A' {
			return 0
		}
	case 'k': // sk_, rk_, sk-
		if s[0] != 's' && s[0] != 'r' {
			return 0
		}
	case 'h', 'i', 'l': // ghp_…, github_pat_, glpat-
		if s[0] != 'g' {
			return 0
		}
	case 'o': // xox?-
		if s[0] != 'x' {
			return 0
		}
	case 'y': // eyJ
		if s[0] != 'e' {
			return 0
		}
	default:
		return 0
	}
	for _, k := range keyFormats {
		if !strings.HasPrefix(s, k.prefix) {
			continue
		}
		n := len(k.prefix)
		j := n
		for j < len(s) && (k.max == 0 || j-n < k.max) {
			c := s[j]
			if k.cl == 0 {
				if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
					break
				}
			} else if !is(c, k.cl) {
				break
			}
			j++
		}
		if j-n < k.min || (j < len(s) && is(s[j], clWord)) {
			return 0 // too short, or a longer word
		}
		if k.prefix == "eyJ" || k.prefix == "sk-" || k.prefix == "glpat-" {
			for j > n && (s[j-1] == '.' || s[j-1] == '-') { // a sentence's full stop
				j--
			}
		}
		return j
	}
	return 0
}

// schemeAt returns the length of an authorization scheme word at the start
// of s (Bearer, Basic, Token, any case) with the spaces after it, or 0.
func schemeAt(s string) int {
	switch s[0] {
	case 'B', 'b', 'T', 't':
	default:
		return 0
	}
	var n int
	switch {
	case hasPrefixFold(s, "bearer"):
		n = 6
	case hasPrefixFold(s, "basic"), hasPrefixFold(s, "token"):
		n = 5
	default:
		return 0
	}
	if n >= len(s) || s[n] != ' ' {
		return 0
	}
	for n < len(s) && s[n] == ' ' {
		n++
	}
	return n
}

// authValue looks at the value after an authorization scheme: replaced
// when it looks like a credential (Bearer eyJ…), left when it is a word
// (Missing Bearer token).
func (x *scan) authValue(i int) int {
	s := x.s
	j := i
	var digit, letter bool
	switches := 0 // changes of case: base64 has many, words a few
	var last byte
	for j < len(s) && is(s[j], clTok) {
		c := s[j]
		var kind byte
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'A' && c <= 'Z':
			letter, kind = true, 'A'
		case c >= 'a' && c <= 'z':
			letter, kind = true, 'a'
		}
		if kind != 0 {
			if last != 0 && kind != last {
				switches++
			}
			last = kind
		}
		j++
	}
	for j > i && s[j-1] == '.' {
		j--
	}
	if j-i >= 8 && (digit && letter || switches >= 3) {
		return x.add(detCredentials, i, j)
	}
	return -1 // a word: looked at again by the other detectors
}

// credentialLike reports a value that looks like a credential rather than
// a word: at least 8 bytes with letters and digits, or both cases.
func credentialLike(v string) bool {
	if len(v) < 8 {
		return false
	}
	var digit, upper, lower bool
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'A' && c <= 'Z':
			upper = upper || i > 0
		case c >= 'a' && c <= 'z':
			lower = true
		}
	}
	return digit && (upper || lower) || upper && lower
}

// secretNames are the names whose values are secrets, lower case, with _
// for - (§14).
var secretNames = []string{
	"password", "passwd", "pwd", "secret", "client_secret", "token", "access_token",
	"refresh_token", "id_token", "api_key", "apikey", "access_key", "secret_key",
	"private_key", "signature", "sig",
}

// compactNames are secretNames without their separators, as camelCase
// writes them (secretKey, accessToken), in the same order.
var compactNames = func() []string {
	m := make([]string, len(secretNames))
	for i, n := range secretNames {
		m[i] = strings.ReplaceAll(n, "_", "")
	}
	return m
}()

// isSecretName reports whether name is a secret's: one of secretNames, or
// a name that ends in one after a separator or a case change (db_password,
// X-Api-Key, clientSecret). query reports a URL query parameter, where
// `key` is one too.
func isSecretName(name string, query bool) bool {
	if query && len(name) == 3 && hasPrefixFold(name, "key") {
		return true
	}
	if name == "" {
		return false
	}
	switch name[len(name)-1] | 0x20 { // the last letters of secretNames
	case 'd', 't', 'n', 'y', 'e', 'g':
	default:
		return false
	}
	for i, n := range secretNames {
		k := len(name) - len(n)
		if k < 0 || !equalFoldSep(name[k:], n) {
			// secretKey, SecretAccessKey: the name without its separator
			c := compactNames[i]
			if k = len(name) - len(c); c == n || k < 0 || !equalFoldSep(name[k:], c) {
				continue
			}
		}
		if k == 0 || name[k-1] == '_' || name[k-1] == '-' || name[k-1] == '.' ||
			(name[k] >= 'A' && name[k] <= 'Z' && (name[k-1] >= 'a' && name[k-1] <= 'z' || name[k-1] >= '0' && name[k-1] <= '9')) {
			return true
		}
	}
	return false
}

// maxName bounds the look back over a parameter's name.
const maxName = 64

// nameBefore returns the start of the parameter name that ends at end,
// looking back at most maxName bytes and never before the floor.
func (x *scan) nameBefore(end int) int {
	a := end
	for a > x.floor && end-a < maxName && is(x.s[a-1], clName) {
		a--
	}
	return a
}

// equals looks at name=value at the = at i.
func (x *scan) equals(i int) int {
	if x.on&detCredentials == 0 {
		return -1
	}
	s := x.s
	a := x.nameBefore(i)
	if a == i || (a > x.floor && is(s[a-1], clName)) {
		return -1
	}
	query := a > 0 && (s[a-1] == '?' || s[a-1] == '&')
	if !isSecretName(s[a:i], query) {
		return -1
	}
	j := i + 1
	if j < len(s) && (s[j] == '"' || s[j] == '\'') {
		q := s[j]
		end := strings.IndexByte(s[j+1:], q)
		if end < 0 {
			return x.add(detCredentials, j+1, len(s))
		}
		return x.add(detCredentials, j+1, j+1+end)
	}
	k := j
	for k < len(s) && !isValueEnd(s[k]) {
		k++
	}
	if k == j || isMask(s[j:k]) {
		return -1
	}
	return x.add(detCredentials, j, k)
}

// isMask reports a value an upstream has masked itself (***, xxxxx), which
// is left as it is.
func isMask(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] != v[0] {
			return false
		}
	}
	return v[0] == '*' || (len(v) >= 3 && (v[0] == 'x' || v[0] == 'X'))
}

// isValueEnd reports a byte that ends an unquoted value.
func isValueEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '&', ',', ';', '"', '\'', '<', '>', ')', ']', '}', '\\':
		return true
	}
	return false
}

// colon looks at what a colon at i joins: a URL's userinfo (://), a quoted
// "name":"value" pair, an IPv6 address (::1).
func (x *scan) colon(i int) int {
	s := x.s
	if x.on&detCredentials != 0 {
		if strings.HasPrefix(s[i:], "://") {
			return x.userinfo(i + 3)
		}
		if n := x.quotedPair(i); n > 0 {
			return n
		}
		if n := x.headerPair(i); n > 0 {
			return n
		}
	}
	if x.on&detAddresses != 0 && i+1 < len(s) && s[i+1] == ':' && (i == 0 || !is(s[i-1], clHex) && s[i-1] != ':') {
		return x.ipv6(i)
	}
	// A drive letter: C:\
	if x.on&detPaths != 0 && i > x.floor && i+1 < len(s) && s[i+1] == '\\' && isLetter(s[i-1]) && (i == 1 || !is(s[i-2], clWord)) {
		return x.add(detPaths, i-1, pathEnd(s, i+2))
	}
	return -1
}

// userinfo looks at the authority of a URL that starts at i: the
// password of its userinfo (postgres://app:[REDACTED]@db), a userinfo
// that is a credential itself (https://ghp_…@host, redis://s3cretPw@…),
// and a host name of one label (db:5432, redis): no public host has one.
func (x *scan) userinfo(i int) int {
	s := x.s
	// The URL as a token, and within it the authority: a password may
	// hold / ? # (base64 does), so the userinfo runs to the token's last @
	// when a colon comes before any /.
	tok := i
	for tok < len(s) && tok-i < maxAuthority && strings.IndexByte(" \t\n\r\"'<>\\`),", s[tok]) < 0 {
		tok++
	}
	colon, at := -1, -1
	if k := strings.LastIndexByte(s[i:tok], '@'); k >= 0 {
		at = i + k
	}
	userEnd := tok
	if at >= 0 {
		userEnd = at
	}
	if k := strings.IndexByte(s[i:userEnd], ':'); k >= 0 && strings.IndexByte(s[i:i+k], '/') < 0 {
		colon = i + k
	}
	if at >= 0 && colon < 0 && strings.ContainsAny(s[i:at], "/?#") {
		at = -1 // an @ in the path
	}
	host := i
	switch {
	case at >= 0 && colon >= 0:
		host = at + 1
		if at > colon+1 && !isMask(s[colon+1:at]) {
			x.add(detCredentials, colon+1, at)
		}
	case at >= 0:
		host = at + 1
		if credentialLike(s[i:at]) {
			x.add(detCredentials, i, at)
		}
	case colon >= 0:
		// user:password with the rest cut off: no port is made of letters.
		v := colon + 1
		for v < tok && strings.IndexByte(":/?#", s[v]) < 0 {
			v++
		}
		if digitsAt(s[colon+1:v]) != v-colon-1 && credentialLike(s[colon+1:v]) {
			return x.add(detCredentials, colon+1, v)
		}
	}
	if x.on&detAddresses == 0 || host >= tok || objectStore(s[:i-3]) {
		return host
	}
	h := host
	for h < tok && (is(s[h], clWord) || s[h] == '-') {
		h++
	}
	if h > host && isLetter(s[host]) && (h == tok || strings.IndexByte(":/?#", s[h]) >= 0) {
		return x.add(detAddresses, host, withPort(s, h))
	}
	return host
}

// maxAuthority bounds how far a URL's authority is looked for.
const maxAuthority = 512

// objectStore reports a URL scheme (the end of before) whose authority is
// a bucket, not a host: s3://, gs://, file://.
func objectStore(before string) bool {
	for _, scheme := range []string{"s3", "gs", "file", "az"} {
		if hasSuffixFold(before, scheme) && (len(before) == len(scheme) || !isLetter(before[len(before)-len(scheme)-1])) {
			return true
		}
	}
	return false
}

// quotedPair looks at a quoted name before the colon at i ("password":
// "…", 'token': '…', and the same escaped inside a JSON string) and
// replaces the quoted value after it when the name is a secret's.
func (x *scan) quotedPair(i int) int {
	s := x.s
	e := i
	for e > x.floor && i-e < 8 && s[e-1] == ' ' {
		e--
	}
	if e == x.floor || (s[e-1] != '"' && s[e-1] != '\'') {
		return -1
	}
	q := s[e-1]
	nameEnd := e - 1
	escaped := nameEnd > 0 && s[nameEnd-1] == '\\'
	if escaped {
		nameEnd--
	}
	a := x.nameBefore(nameEnd)
	if a == nameEnd || a == 0 || s[a-1] != q || !isSecretName(s[a:nameEnd], false) {
		return -1
	}
	j := i + 1
	for j < len(s) && s[j] == ' ' {
		j++
	}
	if escaped {
		if !strings.HasPrefix(s[j:], `\`+string(q)) {
			return -1
		}
		j += 2
		end := strings.Index(s[j:], `\`+string(q))
		if end < 0 {
			return x.add(detCredentials, j, len(s))
		}
		return x.add(detCredentials, j, j+end)
	}
	if j >= len(s) || (s[j] != '"' && s[j] != '\'') {
		return -1
	}
	q = s[j]
	j++
	for k := j; k < len(s); k++ {
		switch s[k] {
		case '\\':
			k++
		case q:
			if k == j || isMask(s[j:k]) {
				return k
			}
			return x.add(detCredentials, j, k)
		}
	}
	return x.add(detCredentials, j, len(s))
}

// headerPair looks at name: value, as headers and logs print a pair, at
// the colon at i: the value is replaced when the name is a secret's and
// the value looks like a credential (x-api-key: 4f9a…), never when it is
// a word (password: field required).
func (x *scan) headerPair(i int) int {
	s := x.s
	a := x.nameBefore(i)
	if a == i || (a > 0 && is(s[a-1], clName)) || !isSecretName(s[a:i], false) {
		return -1
	}
	j := i + 1
	for j < len(s) && s[j] == ' ' {
		j++
	}
	k := j
	for k < len(s) && is(s[k], clTok) {
		k++
	}
	if !keyLike(s[j:k]) {
		return -1
	}
	return x.add(detCredentials, j, k)
}

// keyLike reports a value that looks like a key rather than a word or a
// name (TokenExpiredError, HMAC-SHA256): 16 bytes or more, letters and
// digits.
func keyLike(v string) bool {
	if len(v) < 16 {
		return false
	}
	var digit, letter bool
	for i := 0; i < len(v); i++ {
		c := v[i]
		digit = digit || c >= '0' && c <= '9'
		letter = letter || isLetter(c)
	}
	return digit && letter
}

// pem replaces a PEM private key block at i, to its END line or, cut
// short, to the end of the text.
func (x *scan) pem(i int) int {
	s := x.s
	head := s[i+len("-----BEGIN "):]
	end := strings.Index(head, "-----")
	if end < 0 || end > 40 || !strings.HasSuffix(head[:end], "PRIVATE KEY") {
		return -1
	}
	rest := head[end+5:]
	if !keyMaterialAt(rest) {
		return -1 // a header alone, as a validation message quotes it
	}
	stop := strings.Index(rest, "-----END ")
	if stop < 0 {
		return x.add(detCredentials, i, len(s))
	}
	after := rest[stop+len("-----END "):]
	tail := strings.Index(after, "-----")
	if tail < 0 {
		return x.add(detCredentials, i, len(s))
	}
	return x.add(detCredentials, i, len(s)-len(after)+tail+5)
}

// keyMaterialAt reports base64 at the start of s, past line breaks
// (also written as \\n inside a JSON string) and spaces.
func keyMaterialAt(s string) bool {
	i := 0
	for i < len(s) {
		switch {
		case s[i] == ' ' || s[i] == '\n' || s[i] == '\r':
			i++
		case strings.HasPrefix(s[i:], `\n`), strings.HasPrefix(s[i:], `\r`):
			i += 2
		case strings.HasPrefix(s[i:], "Proc-Type:"): // an encrypted key's headers
			return true
		default:
			n := 0
			for i+n < len(s) && (is(s[i+n], clWord) || s[i+n] == '+' || s[i+n] == '/') {
				n++
			}
			return n >= 16
		}
	}
	return false
}

// --- addresses -------------------------------------------------------------

// ipv4 looks at an IPv4 address at i (a word that starts with 1: every
// internal range does) and replaces it, with its port, when it is
// internal.
func (x *scan) ipv4(i int) int {
	s := x.s
	if i > 0 && s[i-1] == '.' {
		return -1
	}
	j, dots := i, 0
	for j < len(s) && j-i < 15 && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
		if s[j] == '.' {
			dots++
		}
		j++
	}
	for j > i && s[j-1] == '.' { // a sentence's full stop
		j--
		dots--
	}
	if dots != 3 || (j < len(s) && (is(s[j], clWord) || s[j] == '.' && j+1 < len(s) && is(s[j+1], clWord))) {
		return j
	}
	a, err := netip.ParseAddr(s[i:j])
	if err != nil || !internalAddr(a) {
		return j
	}
	return x.add(detAddresses, i, withPort(s, j))
}

// ipv6 looks at an IPv6 literal at i, bracketed ([fd00::1]:5432) or bare
// (fe80::1, ::1), and replaces it, with its port, when it is internal.
func (x *scan) ipv6(i int) int {
	s := x.s
	j := i
	if s[i] == '[' {
		j++
	}
	start := j
	for j < len(s) && j-start < 64 && (is(s[j], clHex) || s[j] == ':' || s[j] == '.') {
		j++
	}
	end := j
	if j < len(s) && s[j] == '%' { // a zone
		for j++; j < len(s) && is(s[j], clWord); j++ {
		}
	}
	lit := s[start:end]
	if strings.Count(lit, ":") < 2 {
		return -1
	}
	for len(lit) > 0 && lit[len(lit)-1] == '.' {
		lit = lit[:len(lit)-1]
	}
	a, err := netip.ParseAddr(lit)
	if err == nil && !internalAddr(a) && s[i] != '[' {
		// Node writes address and port together: ECONNREFUSED ::1:8080.
		if k := strings.LastIndexByte(lit, ':'); k > 0 && digitsAt(lit[k+1:]) == len(lit)-k-1 {
			if b, err := netip.ParseAddr(lit[:k]); err == nil && internalAddr(b) {
				a = b
			}
		}
	}
	if err != nil || !internalAddr(a) {
		return j
	}
	if s[i] == '[' {
		if j >= len(s) || s[j] != ']' {
			return j
		}
		return x.add(detAddresses, i, withPort(s, j+1))
	}
	return x.add(detAddresses, i, j)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// internalAddr reports the loopback, private (RFC 1918, unique local),
// CGNAT and link-local addresses.
func internalAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || cgnat.Contains(a)
}

// withPort returns the end of the port after an address that ends at j,
// or j when none follows.
func withPort(s string, j int) int {
	if j+1 >= len(s) || s[j] != ':' || s[j+1] < '0' || s[j+1] > '9' {
		return j
	}
	k := j + 1
	for k < len(s) && k-j <= 5 && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	return k
}

// internalSuffixes are the domains of internal host names, lower case.
var internalSuffixes = []string{
	".cluster.local", ".local", ".internal", ".svc", ".lan", ".corp", ".localdomain", ".home.arpa",
	".consul",
}

// dot looks at a dot: a file name's extension in a stack frame, or the
// start of an internal domain.
func (x *scan) dot(i int) int {
	s := x.s
	if i+1 >= len(s) || i == 0 || !is(s[i-1], clHost) {
		return -1
	}
	if x.on&detTraces != 0 && x.found&detTraces == 0 && frameAt(s[i+1:]) {
		x.withheld(detTraces)
	}
	if x.on&detAddresses == 0 || i < x.hostEnd {
		return -1
	}
	switch s[i+1] | 0x20 {
	case 'l', 'i', 's', 'c', 'h': // the suffixes' first letters
	default:
		return -1
	}
	a := i
	for a > x.floor && is(s[a-1], clHost) {
		a--
	}
	e := i + 1
	for e < len(s) && is(s[e], clHost) {
		e++
	}
	for e > i && (s[e-1] == '.' || s[e-1] == '-') {
		e--
	}
	x.hostEnd = e
	name := s[a:e]
	if name == "" || !is(name[0], clWord) {
		return -1
	}
	for _, suf := range internalSuffixes {
		if len(name) > len(suf) && hasSuffixFold(name, suf) {
			return x.add(detAddresses, a, withPort(s, e))
		}
	}
	return -1
}

// --- traces ----------------------------------------------------------------

// frameAt reports a stack frame's file position after a dot: the
// extension of a source file and how each language's frames go on.
func frameAt(s string) bool {
	switch s[0] {
	case 'j', 'k', 's', 'g', 'p', 'c', 'r', 'm', 't':
	default:
		return false
	}
	switch s[0] {
	case 'j', 'k', 's', 'g': // Java, Kotlin, Scala, Groovy: (OrderService.java:42)
		for _, ext := range []string{"java:", "kt:", "scala:", "groovy:"} {
			if strings.HasPrefix(s, ext) {
				n := digitsAt(s[len(ext):])
				if n > 0 && len(ext)+n < len(s) && s[len(ext)+n] == ')' {
					return true
				}
			}
		}
	}
	switch {
	case strings.HasPrefix(s, `py", line `): // Python: File "x.py", line 3
		return digitsAt(s[10:]) > 0
	case strings.HasPrefix(s, "go:"): // Go: /x.go:123 +0x1d
		n := digitsAt(s[3:])
		return n > 0 && strings.HasPrefix(s[3+n:], " +0x")
	case strings.HasPrefix(s, "cs:line "): // .NET: in C:\x.cs:line 3
		return digitsAt(s[8:]) > 0
	case strings.HasPrefix(s, "php"): // PHP: #0 /var/www/x.php(12), … in /x.php on line 12
		r := s[3:]
		switch {
		case strings.HasPrefix(r, "("):
			n := digitsAt(r[1:])
			return n > 0 && 1+n < len(r) && r[1+n] == ')'
		case strings.HasPrefix(r, " on line "):
			return digitsAt(r[9:]) > 0
		case strings.HasPrefix(r, ":"):
			return digitsAt(r[1:]) > 0
		}
	case strings.HasPrefix(s, "rb:"): // Ruby: x.rb:3:in 'save'
		n := digitsAt(s[3:])
		return n > 0 && strings.HasPrefix(s[3+n:], ":in ")
	}
	// Node, TypeScript, Rust: /app/x.js:1:2, src/main.rs:10:5
	for _, ext := range []string{"js:", "mjs:", "cjs:", "ts:", "jsx:", "tsx:", "rs:"} {
		if strings.HasPrefix(s, ext) {
			r := s[len(ext):]
			n := digitsAt(r)
			return n > 0 && n+1 < len(r) && r[n] == ':' && digitsAt(r[n+1:]) > 0
		}
	}
	return false
}

// traceWordAt reports a word that only a trace has: Python's Traceback
// line, a Go goroutine header, Node's internal frames.
func traceWordAt(s string) bool {
	switch s[0] {
	case 'T':
		return strings.HasPrefix(s, "Traceback (most recent call last)")
	case 'g':
		if strings.HasPrefix(s, "goroutine ") {
			n := digitsAt(s[10:])
			return n > 0 && strings.HasPrefix(s[10+n:], " [")
		}
	case 'n':
		return strings.HasPrefix(s, "node:internal/")
	case 'a':
		return frameCallAt(s)
	}
	return false
}

// frameCallAt reports a frame without a file position, as .NET and Java
// print them: at System.Data.SqlClient.SqlConnection.OnError(…), a
// method qualified by at least two names.
func frameCallAt(s string) bool {
	if !strings.HasPrefix(s, "at ") {
		return false
	}
	dots := 0
	for i := 3; i < len(s) && i < 3+256; i++ {
		switch c := s[i]; {
		case c == '.':
			dots++
		case c == '(':
			return dots >= 2 && s[i-1] != '.'
		case !is(c, clWord) && c != '$' && c != '`' && c != '<' && c != '>' && c != '/':
			return false
		}
	}
	return false
}

// --- sql -------------------------------------------------------------------

// sqlWordAt reports SQL or a database error that starts with the word at i.
func (x *scan) sqlWordAt(i int) bool {
	s := x.s[i:]
	switch s[0] {
	case 'S':
		if keywordAt(s, "SELECT") {
			if x.noFrom {
				return false
			}
			if keywordIn(s[6:], "FROM") {
				return true
			}
			x.noFrom = true
			return false
		}
		return hasPrefixFold(s, "sqlstate")
	case 's':
		return hasPrefixFold(s, "sqlstate") || strings.HasPrefix(s, "syntax error at or near")
	case 'I':
		return strings.HasPrefix(s, "INSERT INTO ")
	case 'D':
		// MySQL's unique violation names the key: Duplicate entry 'x' for key 'users.email'
		return strings.HasPrefix(s, "DELETE FROM ") ||
			strings.HasPrefix(s, "Duplicate entry '") && strings.Contains(s[17:min(len(s), 17+256)], "' for key '")
	case 'U':
		if keywordAt(s, "UPDATE") && !x.noSet {
			if keywordIn(s[6:], "SET") {
				return true
			}
			x.noSet = true
		}
	case 'O':
		return strings.HasPrefix(s, "ORA-") && digitsAt(s[4:]) == 5
	case 'E', 'e':
		// MySQL: ERROR 1064 (42000), and its Go driver's Error 1062 (23000)
		if hasPrefixFold(s, "error ") && digitsAt(s[6:]) == 4 && len(s) >= 18 && s[10] == ' ' && s[11] == '(' && s[17] == ')' && isSQLState(s[12:17]) {
			return true
		}
	case 'v':
		return strings.HasPrefix(s, "violates ") && strings.Contains(s[9:min(len(s), 9+40)], "constraint")
	case 'V':
		return strings.HasPrefix(s, "Violation of ") && strings.Contains(s[13:min(len(s), 13+40)], "constraint")
	case 'r', 'c':
		if strings.HasPrefix(s, `relation "`) || strings.HasPrefix(s, `column "`) {
			q := strings.IndexByte(s, '"')
			return strings.Contains(s[q:min(len(s), q+200)], `" does not exist`)
		}
		return strings.HasPrefix(s, "constraint failed")
	case 'n':
		if strings.HasPrefix(s, `near "`) { // SQLite: near "FROM": syntax error
			return strings.Contains(s[6:min(len(s), 6+64)], `": syntax error`)
		}
		return strings.HasPrefix(s, "no such table") || strings.HasPrefix(s, "no such column")
	case 'C':
		return strings.HasPrefix(s, "Cannot insert duplicate key") // SQL Server
	}
	return false
}

// isSQLState reports five digits and upper-case letters: 23000, HY000.
func isSQLState(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < '0' || c > '9') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// keywordAt reports the upper-case keyword kw as a whole word at the start
// of s.
func keywordAt(s, kw string) bool {
	return strings.HasPrefix(s, kw) && (len(s) == len(kw) || !is(s[len(kw)], clWord))
}

// keywordIn reports the upper-case keyword kw as a whole word in s.
func keywordIn(s, kw string) bool {
	for {
		k := strings.Index(s, kw)
		if k < 0 {
			return false
		}
		if (k == 0 || !is(s[k-1], clWord)) && keywordAt(s[k:], kw) {
			return true
		}
		s = s[k+len(kw):]
	}
}

// --- e-mail addresses and paths (not in the default set) --------------------

// email replaces the e-mail address around the @ at i.
func (x *scan) email(i int) int {
	s := x.s
	a := i
	for a > x.floor && i-a < maxName && (is(s[a-1], clWord) || strings.IndexByte(".%+-", s[a-1]) >= 0) {
		a--
	}
	e := i + 1
	for e < len(s) && is(s[e], clHost) {
		e++
	}
	for e > i+1 && (s[e-1] == '.' || s[e-1] == '-') {
		e--
	}
	domain := s[i+1 : e]
	dot := strings.LastIndexByte(domain, '.')
	if a == i || dot <= 0 || len(domain)-dot-1 < 2 || !isLetter(domain[len(domain)-1]) {
		return -1 // the domain's run ends at the next @: looked at once
	}
	return x.add(detEmails, a, e)
}

// pathRoots are the directories whose absolute paths are internals.
var pathRoots = []string{"/home/", "/root/", "/var/", "/usr/", "/opt/", "/etc/", "/srv/", "/tmp/", "/app/"}

// httpMethods precede a URL path (Cannot GET /app/…), never a file's.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// unixPath replaces an absolute file-system path at i.
func (x *scan) unixPath(i int) int {
	s := x.s
	if i > 0 && strings.IndexByte(" \t\n\"'(=[,:<`", s[i-1]) < 0 {
		return -1
	}
	root := false
	for _, r := range pathRoots {
		if strings.HasPrefix(s[i:], r) {
			root = true
			break
		}
	}
	if !root {
		return -1
	}
	for _, m := range httpMethods {
		if i > len(m) && s[i-1] == ' ' && s[i-1-len(m):i-1] == m && (i-1-len(m) == 0 || !is(s[i-2-len(m)], clWord)) {
			return -1
		}
	}
	return x.add(detPaths, i, pathEnd(s, i))
}

// pathEnd returns where a path that starts at i ends.
func pathEnd(s string, i int) int {
	j := i
	for j < len(s) && strings.IndexByte(" \t\n\r\"'`<>,;:)]}", s[j]) < 0 {
		j++
	}
	for j > i && s[j-1] == '.' {
		j--
	}
	return j
}

// --- helpers -----------------------------------------------------------------

// digitsAt returns the number of ASCII digits at the start of s.
func digitsAt(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// hasPrefixFold reports whether s starts with the lower-case ASCII prefix,
// in any case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// hasSuffixFold reports whether s ends with the lower-case ASCII suffix,
// in any case.
func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && hasPrefixFold(s[len(s)-len(suffix):], suffix)
}

// equalFoldSep reports whether s equals the lower-case name, in any case
// and with - for _.
func equalFoldSep(s, name string) bool {
	if len(s) != len(name) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '-':
			c = '_'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}

// compileScrub compiles the scrub and scrub_pattern options.
func compileScrub(names []string, patterns []ScrubPattern) (scrubber, error) {
	var s scrubber
	switch {
	case len(names) == 0:
		s.on = defaultScrub
	case len(names) == 1 && names[0] == "off":
	default:
		for _, n := range names {
			if n == "off" {
				return s, optionErr("scrub", 0, "scrub %q: off turns every detector off, so it stands alone", strings.Join(names, " "))
			}
			d := detectorNamed(n)
			if d == 0 {
				return s, optionErr("scrub", 0, "scrub %q: unknown detector; known: %s", n, strings.Join(detectorNames[:numDetectors-1], ", "))
			}
			if s.on&d != 0 {
				return s, optionErr("scrub", 0, "scrub %q: named twice", n)
			}
			s.on |= d
		}
	}
	for i, sp := range patterns {
		re, err := regexp.Compile(sp.Pattern)
		if err != nil {
			return s, optionErr("scrub_pattern", i, "scrub_pattern %q: %w", sp.Pattern, err)
		}
		if re.MatchString("") || matchesEmpty(re) {
			return s, optionErr("scrub_pattern", i, "scrub_pattern %q: matches the empty string, so it would mark every gap", sp.Pattern)
		}
		mark := sp.Mark
		if mark == "" {
			mark = redactionMark
		}
		s.patterns = append(s.patterns, scrubPattern{re: re, mark: mark})
		s.on |= detPattern
	}
	s.kept = s.on & detPattern
	if s.on&^detPattern != 0 {
		s.kept |= detCredentials // whichever detectors are named
	}
	return s, nil
}

// matchesEmpty reports a pattern that matches an empty string somewhere
// in text (\b, ^, (?m)$): it would mark every gap.
func matchesEmpty(re *regexp.Regexp) bool {
	for _, m := range re.FindAllStringIndex("Order 42 not-found_at x.y:z", -1) {
		if m[0] == m[1] {
			return true
		}
	}
	return false
}

// detectorNamed is the detector of a scrub name, 0 for none; the
// operator's patterns have no name to turn them on with.
func detectorNamed(name string) detectors {
	for i, n := range detectorNames[:numDetectors-1] {
		if n == name {
			return 1 << i
		}
	}
	return 0
}

// scrubNames[set] are the names of a set of detectors, and scrubList[set]
// them comma-separated (boxed for the placeholder): made once, so a
// response's log line and placeholder allocate nothing for them.
var scrubNames, scrubList = func() (names [1 << numDetectors][]string, list [1 << numDetectors]any) {
	for set := range 1 << numDetectors {
		names[set] = []string{}
		for i, n := range detectorNames {
			if set&(1<<i) != 0 {
				names[set] = append(names[set], n)
			}
		}
		list[set] = strings.Join(names[set], ",")
	}
	return
}()
