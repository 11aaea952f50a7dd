package errenvelope

// Trailers of held responses (SPEC §11.1): reverse_proxy puts an
// upstream's trailer values into the shared header map after the body, so
// a held response that passes has them in its header map before its
// header is written. They are taken out and put back after it, where
// Go's servers send them as trailers again.

import (
	"net/http"
	"strings"
)

// takeTrailers removes the values of the trailers that hdr announces (its
// Trailer header) and returns them, or nil when there are none.
func takeTrailers(hdr http.Header) http.Header {
	announced := hdr["Trailer"]
	if len(announced) == 0 {
		return nil
	}
	var taken http.Header
	for _, v := range announced {
		for _, name := range strings.Split(v, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			if vals, ok := hdr[name]; ok && name != "" {
				if taken == nil {
					taken = http.Header{}
				}
				taken[name] = vals
				delete(hdr, name)
			}
		}
	}
	return taken
}

// dropTrailers removes every trailer from a response that is replaced: the
// announcement, the announced values, and the unannounced ones that
// reverse_proxy keys with http.TrailerPrefix.
func dropTrailers(hdr http.Header) {
	if len(hdr["Trailer"]) > 0 {
		takeTrailers(hdr)
		delete(hdr, "Trailer")
	}
	for k := range hdr {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			delete(hdr, k)
		}
	}
}
