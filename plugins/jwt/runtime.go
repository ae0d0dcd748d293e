package jwt

import (
	"bytes"
	"context"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// runtime is one applied configuration with its live key material, file
// watcher and issuer resolver.
type runtime struct {
	p      *Plugin
	setup  *setup
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	signer     atomic.Pointer[signingKey]
	staticJWKS atomic.Pointer[[]byte]
	resolver   *resolver

	// reloadMu serialises file reloads; last holds the bytes each file
	// source was last loaded from (empty at first, so activate loads them
	// again after the watcher is up and no change slips between).
	reloadMu sync.Mutex
	last     map[string][]byte
}

// published is one key snapshot and the verifier compiled from it. Verify
// and WatchKeys read the same value, so a withdrawn key stops verifying in
// the plugin the moment the snapshot without it goes out.
type published struct {
	snap     sdk.KeySnapshot
	verifier *jwtverify.Verifier
	// changed is closed when a newer snapshot replaces this one.
	changed chan struct{}
}

// start builds a runtime for s and starts its file watcher. Nothing is
// published until it is swapped in.
func (p *Plugin) start(ctx context.Context, s *setup) (*runtime, error) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	rt := &runtime{p: p, setup: s, log: p.log.Load(), ctx: rctx, cancel: cancel, last: map[string][]byte{}}
	var files []string
	if ps := s.provider; ps != nil {
		rt.signer.Store(ps.key)
		if ps.source.file != "" {
			files = append(files, ps.source.file)
		}
	}
	if vs := s.verifier; vs != nil {
		if vs.static != nil {
			doc := vs.staticJWKS
			rt.staticJWKS.Store(&doc)
			if vs.static.file != "" {
				files = append(files, vs.static.file)
			}
		} else {
			rt.resolver = newResolver(rt, vs)
		}
	}
	if len(files) > 0 {
		if err := watchFiles(rctx, &rt.wg, rt.log, files, rt.reloadFiles); err != nil {
			cancel()
			return nil, sdk.Unavailable("cannot watch key files: %v", err)
		}
	}
	return rt, nil
}

// activate starts the work that publishes: a reload that catches a change
// made while the watcher was starting, and the issuers' refresh loops.
func (rt *runtime) activate() {
	rt.reloadFiles()
	if rt.resolver != nil {
		rt.resolver.start()
	}
}

func (rt *runtime) stop() {
	rt.cancel()
	rt.wg.Wait()
}

// keySets is what the runtime publishes now.
func (rt *runtime) keySets() []sdk.KeySet {
	vs := rt.setup.verifier
	if vs == nil {
		return nil
	}
	if rt.resolver != nil {
		return vs.keySets(nil, rt.resolver.current())
	}
	return vs.keySets(*rt.staticJWKS.Load(), nil)
}

// reloadFiles re-reads the key files. A file that fails to read or parse
// keeps the last good keys and is reported.
func (rt *runtime) reloadFiles() {
	rt.reloadMu.Lock()
	defer rt.reloadMu.Unlock()
	if ps := rt.setup.provider; ps != nil && ps.source.file != "" {
		if raw, changed := rt.changedFile(ps.source); changed {
			key, err := ps.source.loadSigningKey(ps.kid)
			if rt.reloaded(ps.source, raw, err) {
				rt.signer.Store(key)
			}
		}
	}
	if vs := rt.setup.verifier; vs != nil && vs.static != nil && vs.static.file != "" {
		if raw, changed := rt.changedFile(*vs.static); changed {
			doc, _, err := vs.static.loadVerificationKeys()
			if rt.reloaded(*vs.static, raw, err) {
				rt.staticJWKS.Store(&doc)
				rt.p.publish(rt)
			}
		}
	}
}

// changedFile reads a source's file and says whether it differs from what
// was last loaded.
func (rt *runtime) changedFile(src keySource) ([]byte, bool) {
	raw, err := src.read()
	if err != nil {
		rt.reportReload(src, err)
		return nil, false
	}
	return raw, !bytes.Equal(raw, rt.last[src.place])
}

// reloaded records the outcome of loading raw; it reports whether the new
// material may be used.
func (rt *runtime) reloaded(src keySource, raw []byte, err error) bool {
	if err != nil {
		rt.reportReload(src, err)
		return false
	}
	rt.last[src.place] = raw
	rt.log.Info("key file reloaded", logFile, src.file)
	return true
}

func (rt *runtime) reportReload(src keySource, err error) {
	if rt.ctx.Err() != nil {
		return
	}
	rt.p.metrics.reloadErrors.WithLabelValues(src.file).Inc()
	rt.log.Error("key file reload failed; keeping the last good keys", logFile, src.file, logError, err.Error())
}

// publish compiles rt's key sets into a new snapshot with the next
// generation, if rt is still the running configuration and anything
// changed.
func (p *Plugin) publish(rt *runtime) {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	p.publishLocked(rt)
}

func (p *Plugin) publishLocked(rt *runtime) {
	if p.rt.Load() != rt {
		return
	}
	sets := rt.keySets()
	old := p.pub.Load()
	if old.verifier != nil && reflect.DeepEqual(old.snap.KeySets, sets) {
		return
	}
	snap := sdk.KeySnapshot{Generation: p.gen + 1, KeySets: sets}
	v, err := jwtverify.New(snap)
	if err != nil {
		rt.log.Error("key snapshot refused; keeping the previous one", logError, err.Error())
		return
	}
	p.gen++
	p.pub.Store(&published{snap: snap, verifier: v, changed: make(chan struct{})})
	close(old.changed)
	rt.log.Debug("keys published", logGeneration, snap.Generation, logKeySets, len(sets))
}

// Log field names.
const (
	logFile       = "file"
	logError      = "error"
	logIssuer     = "issuer"
	logGeneration = "generation"
	logKeySets    = "key_sets"
)
