package errenvelope

import (
	"strings"
	"sync"
)

// choiceCache remembers what a request header's value chose (a language,
// a form of error): clients send few distinct values, and working one out
// again costs more than looking it up. It holds at most maxCachedChoices
// values and starts over when full, so a client sending a new value with
// each request costs only the work it would cost anyway.
type choiceCache struct {
	mu sync.RWMutex
	m  map[string]int
}

const maxCachedChoices = 256

func (c *choiceCache) get(v string) (int, bool) {
	c.mu.RLock()
	i, ok := c.m[v]
	c.mu.RUnlock()
	return i, ok
}

func (c *choiceCache) put(v string, i int) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedChoices {
		c.m = make(map[string]int)
	}
	c.m[strings.Clone(v)] = i
	c.mu.Unlock()
}
