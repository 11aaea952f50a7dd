package errenvelope

// Languages (SPEC §10.4): which of a catalog entry's messages a client gets.

import (
	"net/http"
	"sort"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/text/language"
)

// langSet is the languages one catalog entry speaks: tags[0] is the
// language of its `message`, the rest those of its `messages`. Entries
// that speak the same languages share one langSet, and so one matcher.
type langSet struct {
	tags    []language.Tag
	names   []string // Content-Language values by index
	matcher language.Matcher
	// What the language headers' values chose before: clients send few
	// distinct values, and matching one costs microseconds.
	byXLanguage, byAcceptLanguage choiceCache[string, int]
}

func newLangSet(tags []language.Tag) *langSet {
	ls := &langSet{tags: tags, matcher: language.NewMatcher(tags)}
	for _, t := range tags {
		ls.names = append(ls.names, t.String())
	}
	return ls
}

// langSets interns langSets by the languages they hold, in order.
type langSets map[string]*langSet

func (s langSets) get(tags []language.Tag) *langSet {
	names := make([]string, len(tags))
	for i, t := range tags {
		names[i] = t.String()
	}
	key := strings.Join(names, ",")
	if ls := s[key]; ls != nil {
		return ls
	}
	ls := newLangSet(tags)
	s[key] = ls
	return ls
}

// sortedTags orders the tags of a `messages` member so that entries
// listing the same languages in another order share a langSet.
func sortedTags(first language.Tag, rest []language.Tag) []language.Tag {
	sort.Slice(rest, func(i, j int) bool { return rest[i].String() < rest[j].String() })
	return append([]language.Tag{first}, rest...)
}

// pick returns the index of the language the client prefers among the
// set's: by the X-Language request header (the Huawei Cloud convention)
// when it holds a valid tag, else by Accept-Language with its q values.
// Tags match case-insensitively, a regional tag falls back to its base
// language and a base language matches its regional variants, as
// golang.org/x/text's BCP 47 matcher decides. No header, `*` or no match
// give 0, the entry's `message`.
func (ls *langSet) pick(r *http.Request) int {
	if r == nil {
		return 0
	}
	if x := headerValue(r.Header, "X-Language"); x != "" && len(x) <= maxLanguageTag {
		i, ok := ls.byXLanguage.get(x)
		if !ok {
			i = -1 // not a tag: Accept-Language decides
			if tag, err := language.Parse(strings.TrimSpace(x)); err == nil {
				i = ls.match(tag)
			}
			ls.byXLanguage.put(strings.Clone(x), i)
		}
		if i >= 0 {
			return i
		}
	}
	values := r.Header["Accept-Language"]
	if len(values) == 0 {
		return 0
	}
	al := values[0]
	if len(values) > 1 {
		al = strings.Join(values, ",")
	}
	if len(al) > maxAcceptLanguage {
		// Real clients send a few tags; parsing a huge list is work an
		// error response must not be made to do. Keep the whole tags
		// that fit.
		al = al[:maxAcceptLanguage]
		al = al[:max(strings.LastIndexByte(al, ','), 0)]
	}
	if i, ok := ls.byAcceptLanguage.get(al); ok {
		return i
	}
	i := 0
	if tags, _, err := language.ParseAcceptLanguage(al); err == nil && len(tags) > 0 {
		i = ls.match(tags...)
	}
	ls.byAcceptLanguage.put(strings.Clone(al), i)
	return i
}

// How much of the language headers is read.
const (
	maxLanguageTag    = 64
	maxAcceptLanguage = 512
)

func (ls *langSet) match(tags ...language.Tag) int {
	_, i, conf := ls.matcher.Match(tags...)
	if conf == language.No {
		return 0
	}
	return i
}

// varySet is what a response adds to Vary: its tokens, and the value of
// a Vary that held none of them before.
type varySet struct {
	tokens []string
	joined string
}

func newVarySet(tokens ...string) varySet {
	return varySet{tokens: tokens, joined: strings.Join(tokens, ", ")}
}

// A localized rewrite varies by the language headers; with
// problem_details on, every examined response by Accept.
var (
	varyLanguage       = newVarySet("Accept-Language", "X-Language")
	varyAccept         = newVarySet("Accept")
	varyAcceptLanguage = newVarySet("Accept", "Accept-Language", "X-Language")
)

// addVary adds the tokens of vs to the response's Vary header, in one
// value, keeping every value already there and adding none it already
// names (or when it is `*`). The slice is always the response's own
// (from hv, else fresh): Caddy's header handler edits values in place.
func addVary(hdr http.Header, vs varySet, hv *headerValues) {
	have := hdr["Vary"]
	if len(have) == 0 {
		hdr["Vary"] = hv.one(vs.joined)
		return
	}
	if httpguts.HeaderValuesContainsToken(have, "*") {
		return
	}
	var add []string
	for _, tok := range vs.tokens {
		if !httpguts.HeaderValuesContainsToken(have, tok) {
			add = append(add, tok)
		}
	}
	if len(add) > 0 {
		hdr["Vary"] = append(have[:len(have):len(have)], strings.Join(add, ", "))
	}
}
