package broker

import (
	"context"
	"sort"
	"sync"
)

// trustSub is one WatchTrust caller's pending notifications, coalesced so a
// slow reader never blocks the broker and never misses a plugin.
type trustSub struct {
	mu      sync.Mutex
	pending map[string]bool
	wake    chan struct{}
}

// trustChanged records that a plugin's trust may have changed: new keys, a
// restart, a reload.
func (b *Broker) trustChanged(plugin string) {
	b.trustMu.Lock()
	defer b.trustMu.Unlock()
	for sub := range b.trustSubs {
		sub.mu.Lock()
		sub.pending[plugin] = true
		sub.mu.Unlock()
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	}
}

// WatchTrust calls fn with the names of plugins whose keys, instance or
// configuration changed since the last call, until ctx ends. Callers that
// hold verdicts (the moderator) re-verify what those plugins vouched for.
func (b *Broker) WatchTrust(ctx context.Context, fn func(plugins []string)) {
	sub := &trustSub{pending: map[string]bool{}, wake: make(chan struct{}, 1)}
	b.trustMu.Lock()
	b.trustSubs[sub] = struct{}{}
	b.trustMu.Unlock()
	defer func() {
		b.trustMu.Lock()
		delete(b.trustSubs, sub)
		b.trustMu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.wake:
		}
		sub.mu.Lock()
		names := make([]string, 0, len(sub.pending))
		for n := range sub.pending {
			names = append(names, n)
		}
		clear(sub.pending)
		sub.mu.Unlock()
		sort.Strings(names)
		if len(names) > 0 {
			fn(names)
		}
	}
}
