//go:build race

package errenvelope

// raceEnabled: this test binary runs with the race detector. Paths through
// Caddy v2.11.9's reverse_proxy to h2c upstreams are then left to the
// run without it (see grpc_calls_test.go).
const raceEnabled = true
