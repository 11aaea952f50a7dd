package errenvelope

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/text/language"
)

// TestPick: the language chosen for the request headers, among en (the
// catalog's), de, zh-CN; twice each, the second time from the cache.
func TestPick(t *testing.T) {
	ls := langSets{}.get(sortedTags(language.Make("en"), []language.Tag{language.Make("zh-CN"), language.Make("de")}))
	tests := []struct {
		x, al string
		want  string
	}{
		{"", "", "en"},
		{"zh-cn", "", "zh-CN"},
		{"ZH", "", "zh-CN"},
		{"zh-TW", "", "zh-CN"}, // the base language's variant, as x/text's matcher ranks it
		{"de-AT", "", "de"},
		{"fr", "de", "en"},         // a valid X-Language decides, even without a match
		{"not a tag!", "de", "de"}, // an invalid one does not
		{"", "fr, de;q=0.5", "de"}, // the best match by q value
		{"", "de;q=0.1, zh", "zh-CN"},
		{"", "de;q=0, fr", "en"}, // q=0 means not this one
		{"", "*", "en"},
		{"", ";;;", "en"},
		{"", "fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, fr, de", "en"}, // past 512 bytes: only the tags that fit count
	}
	for _, tt := range tests {
		for round := range 2 {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.x != "" {
				r.Header.Set("X-Language", tt.x)
			}
			if tt.al != "" {
				r.Header.Set("Accept-Language", tt.al)
			}
			if got := ls.names[ls.pick(r)]; got != tt.want {
				t.Errorf("round %d: X-Language %q, Accept-Language %.40q: got %s, want %s", round, tt.x, tt.al, got, tt.want)
			}
		}
	}
}

// TestChoiceCacheIsBounded: a client sending a new header value with each
// request never grows the cache past its bound.
func TestChoiceCacheIsBounded(t *testing.T) {
	ls := langSets{}.get(sortedTags(language.Make("en"), []language.Tag{language.Make("de")}))
	for i := range 3 * maxCachedChoices {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept-Language", fmt.Sprintf("de;q=0.%d", i%9+1))
		r.Header.Set("X-Language", fmt.Sprintf("!%d", i)) // not a tag: Accept-Language decides
		if got := ls.pick(r); got != 1 {
			t.Fatalf("pick = %d, want de", got)
		}
		if n := len(ls.byXLanguage.m); n > maxCachedChoices {
			t.Fatalf("cache holds %d values", n)
		}
	}
}
