package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// Verify checks a token with the named plugin, or with every verifying
// plugin in configuration order when plugin is empty: the first to accept
// wins; if none does, an outage of any of them makes the answer an outage.
func (b *Broker) Verify(ctx context.Context, plugin string, req sdk.VerifyRequest) (sdk.Identity, error) {
	if plugin != "" {
		s, err := b.slot(plugin)
		if err != nil {
			return sdk.Identity{}, err
		}
		return b.verifyWith(ctx, s, req)
	}
	return b.firstAccept(sdk.CapVerify, "token", func(s *slot) (sdk.Identity, error) { return b.verifyWith(ctx, s, req) })
}

// firstAccept asks every plugin offering capability, in configuration order,
// until one accepts. If none does, an outage of any makes the answer an
// outage; otherwise it is a rejection naming each plugin's reason.
func (b *Broker) firstAccept(capability sdk.Capability, what string, verify func(*slot) (sdk.Identity, error)) (sdk.Identity, error) {
	var rejections, outages []string
	var firstReject error
	for _, s := range b.set.Load().order {
		if in := s.cur.Load(); in != nil && !in.info.Has(capability) {
			continue
		}
		id, err := verify(s)
		switch {
		case err == nil:
			return id, nil
		case errors.Is(err, sdk.ErrRejected):
			rejections = append(rejections, err.Error())
			if firstReject == nil {
				firstReject = err
			}
		default:
			outages = append(outages, err.Error())
		}
	}
	switch {
	case len(outages) > 0:
		return sdk.Identity{}, sdk.Unavailable("no plugin accepted the %s and some could not decide: %s", what, strings.Join(append(outages, rejections...), "; "))
	case firstReject == nil:
		return sdk.Identity{}, fmt.Errorf("%w: no plugin offers %s", ErrNoPlugin, capability)
	case len(rejections) == 1:
		return sdk.Identity{}, firstReject
	}
	return sdk.Identity{}, sdk.Reject(errorKind(firstReject), "no plugin accepted the %s: %s", what, strings.Join(rejections, "; "))
}

// errorKind finds the verdict sentinel inside err.
func errorKind(err error) error {
	for _, k := range []error{sdk.ErrExpired, sdk.ErrNotYetValid, sdk.ErrAudience, sdk.ErrKeyMismatch, sdk.ErrUntrusted, sdk.ErrReplayed, sdk.ErrPolicy} {
		if errors.Is(err, k) {
			return k
		}
	}
	return sdk.ErrInvalid
}

// verifyWith decides with, in order: a cached verdict, the plugin's
// published keys in process, the plugin's Verify.
func (b *Broker) verifyWith(ctx context.Context, s *slot, req sdk.VerifyRequest) (id sdk.Identity, err error) {
	start := time.Now()
	path := pathPlugin
	defer func() {
		outcome := outcomeAccepted
		if err != nil {
			outcome = outcomeUnavailable
			if errors.Is(err, sdk.ErrRejected) {
				outcome = outcomeRejected
			}
		}
		s.observe(outcome, path, time.Since(start))
	}()
	now := req.At
	if now.IsZero() {
		now = start
	}
	in, err := s.acquire()
	if err != nil {
		return sdk.Identity{}, err
	}
	defer in.leave()
	// An answer given without the plugin (cached, or with its published
	// keys) needs the plugin alive at this moment: while it is down nothing
	// it vouched for is accepted. A call to a dead plugin fails by itself.
	dead := func() error { return sdk.Unavailable("plugin(%s): exited; restarting", s.name) }
	epoch := s.epoch.Load()
	cache := b.cache.Load()
	useCache := cache != nil && req.At.IsZero() && s.cacheable()
	var key string
	if useCache {
		key = cacheKey(s.name, req.Token, req.Audiences)
		if hit, ok := cache.get(key, epoch, now); ok {
			path = pathCache
			if !in.alive() {
				return sdk.Identity{}, dead()
			}
			return hit, nil
		}
	}
	if pub := s.keys.Load(); pub != nil && pub.from == in {
		id, err := pub.verifier.Verify(req.Token, req.Audiences, now)
		if !errors.Is(err, jwtverify.ErrUndecided) {
			path = pathLocal
			if !in.alive() {
				return sdk.Identity{}, dead()
			}
			if err != nil {
				return sdk.Identity{}, fmt.Errorf("plugin(%s): %w", s.name, err)
			}
			id.Provider = s.name
			if useCache {
				cache.put(key, id, epoch)
			}
			return id, nil
		}
	}
	id, err = in.client.Verify(ctx, req)
	if err != nil {
		return sdk.Identity{}, err
	}
	id.Provider = s.name
	if useCache {
		cache.put(key, id, epoch)
	}
	return id, nil
}

func (s *slot) cacheable() bool {
	c := s.entry.Load().Cache
	return c == nil || *c
}
