package sharedsecret

import (
	"sync"

	"github.com/slimid/slimid/sdk"
)

// replayCache remembers (nonce, timestamp) pairs until their tokens expire.
// When it is full of live entries it refuses new tokens rather than forget
// one: forgetting would let that token be replayed.
type replayCache struct {
	mu       sync.Mutex
	seen     map[replayKey]struct{}
	order    []replayKey // insertion order; tokens arrive roughly by timestamp
	head     int
	max      int
	validity int64
}

type replayKey struct {
	nonce string
	ts    int64
}

func newReplayCache(max int, validitySecs int64) *replayCache {
	return &replayCache{seen: make(map[replayKey]struct{}), max: max, validity: validitySecs}
}

// record admits a token once. now is in unix seconds.
func (c *replayCache) record(nonce string, ts, now int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.head < len(c.order) && now-c.order[c.head].ts > c.validity {
		delete(c.seen, c.order[c.head])
		c.head++
	}
	if c.head > len(c.order)/2 {
		c.order = append(c.order[:0], c.order[c.head:]...)
		c.head = 0
	}
	k := replayKey{nonce: nonce, ts: ts}
	if _, dup := c.seen[k]; dup {
		return sdk.Reject(sdk.ErrReplayed, "shared-secret token was already used (nonce %s)", nonce)
	}
	if len(c.seen) >= c.max {
		return sdk.Unavailable("replay cache is full (%d live tokens); raise replay_cache.max_entries", c.max)
	}
	c.seen[k] = struct{}{}
	c.order = append(c.order, k)
	return nil
}
