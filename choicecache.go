package errenvelope

import "sync"

// choiceCache remembers what a request's header values chose (a language,
// a form of error, a gRPC answer's details): clients send few distinct
// values, and working one out again costs more than looking it up. It
// holds at most maxCachedChoices values and starts over when full, so a
// client sending a new value with each request costs only the work it
// would cost anyway. Callers give it keys of at most maxCachedKey bytes,
// which own their memory (strings.Clone of a request's header).
type choiceCache[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

const maxCachedChoices = 256

// maxCachedKey is the longest header value that a choiceCache key is made
// of (Accept, a request's host and Retry-After): longer ones are worked
// out each time, so the cache's memory stays bounded.
const maxCachedKey = 512

func (c *choiceCache[K, V]) get(k K) (V, bool) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *choiceCache[K, V]) put(k K, v V) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedChoices {
		c.m = make(map[K]V)
	}
	c.m[k] = v
	c.mu.Unlock()
}
