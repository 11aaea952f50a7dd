//go:build !race

package errenvelope

// raceEnabled: this test binary runs with the race detector.
const raceEnabled = false
