package errenvelope

import (
	"strings"
	"sync"
)

// choiceCache remembers what a request header's value chose (a language,
// a form of error, a gRPC answer's details): clients send few distinct
// values, and working one out again costs more than looking it up. It
// holds at most maxCachedChoices values and starts over when full, so a
// client sending a new value with each request costs only the work it
// would cost anyway.
type choiceCache[V any] struct {
	mu sync.RWMutex
	m  map[string]V
}

const maxCachedChoices = 256

// maxCachedKey is the longest value a choiceCache is given: longer ones
// are worked out each time, so the cache's memory stays bounded.
const maxCachedKey = 512

func (c *choiceCache[V]) get(v string) (V, bool) {
	c.mu.RLock()
	i, ok := c.m[v]
	c.mu.RUnlock()
	return i, ok
}

func (c *choiceCache[V]) put(v string, i V) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedChoices {
		c.m = make(map[string]V)
	}
	c.m[strings.Clone(v)] = i
	c.mu.Unlock()
}
