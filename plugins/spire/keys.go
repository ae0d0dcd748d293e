package spire

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// verifyRules are the parts of the configuration that shape key sets.
type verifyRules struct {
	audiences []string
	leeway    time.Duration
}

func (r verifyRules) equal(o verifyRules) bool {
	return slices.Equal(r.audiences, o.audiences) && r.leeway == o.leeway
}

// keyHub holds the JWT bundles last streamed by the agent as a published
// snapshot and its compiled verifier. It outlives reconfigurations, so
// generations only grow.
type keyHub struct {
	log func() *slog.Logger

	mu       sync.Mutex
	bundles  *jwtbundle.Set // nil before the first
	rules    verifyRules
	snap     sdk.KeySnapshot
	verifier *jwtverify.Verifier // nil until bundles arrive
	unusable error               // why the last bundles gave no verifier
	changed  chan struct{}       // closed and replaced on every new generation
}

func newKeyHub(log func() *slog.Logger) *keyHub {
	return &keyHub{log: log, changed: make(chan struct{})}
}

// setRules applies a new configuration to the bundles held.
func (h *keyHub) setRules(r verifyRules) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rules.equal(r) {
		return
	}
	h.rules = r
	if h.bundles != nil {
		h.rebuild()
	}
}

// setBundles takes a bundle set from the agent; an unchanged set (the
// agent resends it on every reconnection) makes no new generation.
func (h *keyHub) setBundles(set *jwtbundle.Set) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bundles != nil && sameBundles(h.bundles, set) {
		return
	}
	h.bundles = set
	h.rebuild()
}

// rebuild publishes a new generation; h.mu is held.
func (h *keyHub) rebuild() {
	generation := h.snap.Generation + 1
	snap, skipped := buildSnapshot(h.bundles, h.rules, generation)
	for _, why := range skipped {
		h.log().Warn("JWT authority left out of the published keys", logError, why.Error())
	}
	v, err := jwtverify.New(snap)
	h.unusable = nil
	if err != nil {
		// Verify reports the outage; nothing unverifiable is published.
		h.log().Error("JWT bundles from the SPIRE agent cannot be used", logError, err.Error())
		snap, h.unusable = sdk.KeySnapshot{Generation: generation}, err
	}
	h.snap, h.verifier = snap, v
	close(h.changed)
	h.changed = make(chan struct{})
	h.log().Info("JWT bundles updated", logGeneration, snap.Generation, logKeySets, len(snap.KeySets))
}

// problem says why there is no verifier: unusable bundles, or none yet.
func (h *keyHub) problem() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.unusable
}

// current returns the snapshot, its verifier (nil before any bundle) and a
// channel closed at the next generation.
func (h *keyHub) current() (sdk.KeySnapshot, *jwtverify.Verifier, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.snap, h.verifier, h.changed
}

// watch sends the snapshot, once there is one, and every later generation
// until ctx ends or send fails.
func (h *keyHub) watch(ctx context.Context, send func(sdk.KeySnapshot) error) error {
	var sent uint64
	for {
		snap, v, changed := h.current()
		if v != nil && snap.Generation > sent {
			if err := send(snap); err != nil {
				return err
			}
			sent = snap.Generation
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// buildSnapshot makes one key set per trust domain, in trust-domain order,
// each JWKS sorted by key ID so that equal bundles give equal bytes. A key
// that cannot be published or that the verifier cannot use (say a
// federated trust domain's odd key type) is left out, and said so in
// skipped, so that it cannot stop the other keys from verifying.
func buildSnapshot(set *jwtbundle.Set, r verifyRules, generation uint64) (snap sdk.KeySnapshot, skipped []error) {
	bundles := set.Bundles() // sorted by trust domain
	snap = sdk.KeySnapshot{Generation: generation, KeySets: make([]sdk.KeySet, 0, len(bundles))}
	for _, b := range bundles {
		td := b.TrustDomain().Name()
		all, left := marshalJWKS(b)
		jwks, unusable, err := jwtverify.UsableKeys(all)
		if err != nil { // our own JWKS document; not expected
			skipped = append(skipped, fmt.Errorf("trust domain %s: %v", td, err))
			continue
		}
		for _, why := range append(left, unusable...) {
			skipped = append(skipped, fmt.Errorf("trust domain %s: %w", td, why))
		}
		snap.KeySets = append(snap.KeySets, sdk.KeySet{
			Name: td,
			JWKS: jwks,
			Rules: sdk.ClaimRules{
				Audiences:          slices.Clone(r.audiences),
				Leeway:             r.leeway,
				RequireKID:         true,
				SPIFFETrustDomain:  td,
				SlimClaimsAudience: true,
			},
		})
	}
	return snap, skipped
}

// marshalJWKS writes a bundle's JWT authorities as a JWKS sorted by kid,
// leaving out (and naming in skipped) keys that have no JWK form.
func marshalJWKS(b *jwtbundle.Bundle) (jwks []byte, skipped []error) {
	authorities := b.JWTAuthorities()
	kids := slices.Sorted(maps.Keys(authorities))
	doc := struct {
		Keys []json.RawMessage `json:"keys"`
	}{Keys: make([]json.RawMessage, 0, len(kids))}
	for _, kid := range kids {
		key, err := json.Marshal(jose.JSONWebKey{Key: authorities[kid], KeyID: kid})
		if err != nil {
			skipped = append(skipped, fmt.Errorf("JWT authority %q has no JWK form: %v", kid, err))
			continue
		}
		doc.Keys = append(doc.Keys, key)
	}
	jwks, _ = json.Marshal(doc) // raw messages that json.Marshal produced
	return jwks, skipped
}

// sameBundles compares two bundle sets by trust domain and authorities.
func sameBundles(a, b *jwtbundle.Set) bool {
	ab, bb := a.Bundles(), b.Bundles()
	if len(ab) != len(bb) {
		return false
	}
	for i := range ab {
		if !ab[i].Equal(bb[i]) {
			return false
		}
	}
	return true
}
