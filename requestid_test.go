package errenvelope

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestClientRequestIDRecipe runs docs/recipes.md's recipe: the client's own
// X-Request-Id, when it is a sane ID, is carried to the backend, into the
// response header and into the envelope; otherwise one is generated.
func TestClientRequestIDRecipe(t *testing.T) {
	startGateway(t)
	var seen string
	p := special("rid-echo", func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Get("X-Request-Id")
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("X-Request-Id", "backend-own-id") // dropped by header_down
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("<h1>no</h1>"))
	})
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	tests := []struct {
		name, sent string
		generated  bool
	}{
		{"client id carried through", "client-42.a:b_c", false},
		{"no id: one is generated", "", true},
		{"id with unsafe characters: one is generated", `<script>"x"`, true},
		{"id too long: one is generated", strings.Repeat("a", 129), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.sent != "" {
				hdr["X-Request-Id"] = tt.sent
			}
			res, body := getWith(t, "/rid-client"+p, hdr)
			if res.StatusCode != http.StatusNotFound {
				t.Fatalf("status %d", res.StatusCode)
			}
			members := checkEnvelope(t, body, "request_id")
			got := res.Header.Values("X-Request-Id")
			if len(got) != 1 || got[0] != members["request_id"] || seen != got[0] {
				t.Fatalf("header %q, body %q, backend saw %q: want one ID everywhere", got, members["request_id"], seen)
			}
			if tt.generated && !uuid.MatchString(got[0]) {
				t.Errorf("generated ID %q is not a UUID", got[0])
			}
			if !tt.generated && got[0] != tt.sent {
				t.Errorf("ID %q, want the client's %q", got[0], tt.sent)
			}
		})
	}
}
