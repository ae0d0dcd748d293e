package broker

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"sync"
)

// ReloadResult lists what a reload did, by plugin name.
type ReloadResult struct {
	Started, Replaced, Stopped, Unchanged []string
	// Notes are changes that take effect only on restart.
	Notes []string
}

// Reload applies a new configuration without a gap: every new or changed
// plugin is started, configured and ready before it replaces the old one,
// which then drains. If any of them fails, nothing changes.
func (b *Broker) Reload(ctx context.Context, cfg *Config) (ReloadResult, error) {
	b.reloadMu.Lock()
	defer b.reloadMu.Unlock()
	res, err := b.reload(ctx, cfg)
	result := "ok"
	if err != nil {
		result = "failed"
	}
	b.metrics.reloads.WithLabelValues(result).Inc()
	return res, err
}

type pendingStart struct {
	entry PluginConfig
	slot  *slot // existing slot for a replacement, a new one otherwise
	in    *instance
	err   error
}

func (b *Broker) reload(ctx context.Context, cfg *Config) (ReloadResult, error) {
	var res ReloadResult
	old := b.set.Load()
	next := &slotSet{byName: map[string]*slot{}}
	var pending []*pendingStart
	for _, entry := range cfg.Plugins {
		s, ok := old.byName[entry.Name]
		switch {
		case ok && sameEntry(*s.entry.Load(), entry):
			res.Unchanged = append(res.Unchanged, entry.Name)
		case ok:
			pending = append(pending, &pendingStart{entry: entry, slot: s})
		default:
			s = newSlot(b.ctx, entry, b, cfg)
			pending = append(pending, &pendingStart{entry: entry, slot: s})
		}
		next.order = append(next.order, s)
		next.byName[entry.Name] = s
	}

	// Start everything new in parallel; each must be configured and ready.
	var wg sync.WaitGroup
	for _, p := range pending {
		wg.Go(func() {
			p.in, p.err = startInstance(ctx, p.slot.ctx, p.entry, b.builtins, b.log.With("plugin", p.entry.Name))
			if p.err == nil {
				if _, err := p.in.waitReady(ctx, b.ready); err != nil {
					p.in.kill()
					p.err = fmt.Errorf("plugin(%s): new instance not ready, keeping the running one: %w", p.entry.Name, err)
				}
			}
		})
	}
	wg.Wait()
	for _, p := range pending {
		if p.err != nil {
			for _, q := range pending {
				if q.in != nil && q.err == nil {
					q.in.kill()
				}
				if _, existed := old.byName[q.entry.Name]; !existed {
					q.slot.cancel()
				}
			}
			return ReloadResult{}, p.err
		}
	}

	// Commit: publish the new set, swap instances in, then drain the old.
	b.set.Store(next)
	for _, p := range pending {
		if _, existed := old.byName[p.entry.Name]; existed {
			entry := p.entry
			p.slot.entry.Store(&entry)
			res.Replaced = append(res.Replaced, p.entry.Name)
		} else {
			res.Started = append(res.Started, p.entry.Name)
		}
	}
	var drains sync.WaitGroup
	for _, p := range pending {
		drains.Go(func() { p.slot.install(p.in, b.grace) })
	}
	for _, s := range old.order {
		if _, kept := next.byName[s.name]; !kept {
			res.Stopped = append(res.Stopped, s.name)
			b.metrics.tokenExpiry.forget(s.name)
			drains.Go(func() { s.stop(b.grace) })
		}
	}
	drains.Wait()
	if cfg.cacheEntries() != b.cfg.cacheEntries() {
		b.cache.Store(newVerdictCache(cfg.cacheEntries()))
	}
	if cfg.Socket != b.cfg.Socket || cfg.HTTP != b.cfg.HTTP || cfg.SocketMode != b.cfg.SocketMode {
		res.Notes = append(res.Notes, "socket, socket_mode and http changes take effect when the broker restarts")
	}
	if cfg.Restart != b.cfg.Restart {
		res.Notes = append(res.Notes, "restart backoff changes apply to plugins started from now on")
	}
	b.cfg = cfg
	b.log.Info("configuration reloaded", "started", res.Started, "replaced", res.Replaced, "stopped", res.Stopped, "unchanged", res.Unchanged)
	return res, nil
}

// sameEntry compares entries, ignoring the blank lines that keep a block
// config's line numbers (moving an entry in the file does not change it).
func sameEntry(a, b PluginConfig) bool {
	a.Config = bytes.TrimLeft(a.Config, "\n")
	b.Config = bytes.TrimLeft(b.Config, "\n")
	return reflect.DeepEqual(a, b)
}
