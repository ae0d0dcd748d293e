package broker

import (
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/slimid/slimid/sdk"
)

// verdictCache remembers accepted tokens. An entry is used only while the
// token is unexpired and its plugin's epoch (bumped on every key change,
// restart or reload) is the one it was verified under.
type verdictCache struct {
	lru *lru.Cache[string, cachedVerdict]
}

type cachedVerdict struct {
	identity sdk.Identity
	epoch    uint64
	expires  time.Time
}

// newVerdictCache returns nil (no caching) for size 0.
func newVerdictCache(size int) *verdictCache {
	if size <= 0 {
		return nil
	}
	c, _ := lru.New[string, cachedVerdict](size)
	return &verdictCache{lru: c}
}

// cacheKey joins plugin, audiences and token with separators that cannot
// occur in a plugin name.
func cacheKey(plugin, token string, audiences []string) string {
	var b strings.Builder
	b.Grow(len(plugin) + len(token) + 16*len(audiences) + 2)
	b.WriteString(plugin)
	b.WriteByte(0)
	for _, a := range audiences {
		b.WriteString(a)
		b.WriteByte(0)
	}
	b.WriteByte(1)
	b.WriteString(token)
	return b.String()
}

func (c *verdictCache) get(key string, epoch uint64, now time.Time) (sdk.Identity, bool) {
	if c == nil {
		return sdk.Identity{}, false
	}
	v, ok := c.lru.Get(key)
	if !ok {
		return sdk.Identity{}, false
	}
	if v.epoch != epoch || !now.Before(v.expires) {
		c.lru.Remove(key)
		return sdk.Identity{}, false
	}
	return v.identity, true
}

func (c *verdictCache) put(key string, id sdk.Identity, epoch uint64) {
	if c == nil || id.SingleUse || id.ExpiresAt.IsZero() {
		return
	}
	c.lru.Add(key, cachedVerdict{identity: id, epoch: epoch, expires: id.ExpiresAt})
}
