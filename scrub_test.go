package errenvelope

import (
	"testing"
)

// allDetectors turns every detector on.
var allDetectors = []string{"credentials", "addresses", "traces", "sql", "emails", "paths"}

func mustScrubber(t testing.TB, names []string, patterns ...ScrubPattern) scrubber {
	t.Helper()
	s, err := compileScrub(names, patterns)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestScrubTable: every row of the table, through the scrubber alone.
func TestScrubTable(t *testing.T) {
	def := mustScrubber(t, nil)
	all := mustScrubber(t, allDetectors)
	check := func(s scrubber, c scrubCase) {
		t.Helper()
		got, found := s.scrub(c.in, s.on)
		if got != c.want {
			t.Errorf("scrub(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
		switch {
		case c.leak && found&c.det == 0:
			t.Errorf("scrub(%q): found %v, want %s among them", c.in, scrubNames[found], scrubNames[c.det])
		case !c.leak && found != 0:
			t.Errorf("scrub(%q): found %v in a look-alike", c.in, scrubNames[found])
		}
	}
	for _, c := range scrubCases {
		check(def, c)
	}
	for _, c := range scrubOptCases {
		check(all, c)
	}
}
