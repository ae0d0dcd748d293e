package jwt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// Refresh pacing for issuer keys.
const (
	minRefresh   = time.Second
	firstBackoff = time.Second
	maxBackoff   = 5 * time.Minute
)

// resolver keeps the keys of the allowed issuers fresh: each is fetched at
// start, again when its cache lifetime ends, and on demand when a token
// names a kid the published keys lack.
type resolver struct {
	rt        *runtime
	issuers   map[string]*issuerKeys
	order     []string
	cooldown  time.Duration
	algorithm jwa.SignatureAlgorithm
}

// issuerKeys is one issuer's cached keys and fetch state.
type issuerKeys struct {
	issuer string
	mu     sync.Mutex
	// jwks is nil until a fetch succeeds; then the last good document.
	jwks        []byte
	expires     time.Time
	lastAttempt time.Time
	lastErr     error
	// inflight is the fetch under way; concurrent callers share it.
	inflight *fetchCall
}

type fetchCall struct {
	done chan struct{}
	err  error
}

func newResolver(rt *runtime, vs *verifierSetup) *resolver {
	r := &resolver{rt: rt, issuers: map[string]*issuerKeys{}, order: vs.issuers, cooldown: vs.cooldown, algorithm: vs.algorithm}
	for _, iss := range vs.issuers {
		r.issuers[iss] = &issuerKeys{issuer: iss}
	}
	return r
}

// start runs one refresh loop per issuer until the runtime stops.
func (r *resolver) start() {
	for _, st := range r.issuers {
		r.rt.wg.Go(func() { r.keepFresh(st) })
	}
}

// current is the last good JWKS of every issuer fetched so far.
func (r *resolver) current() map[string][]byte {
	out := map[string][]byte{}
	for iss, st := range r.issuers {
		st.mu.Lock()
		if st.jwks != nil {
			out[iss] = st.jwks
		}
		st.mu.Unlock()
	}
	return out
}

// status is ready once some issuer's keys are at hand.
func (r *resolver) status() (string, bool) {
	have := 0
	var failures []string
	for _, iss := range r.order {
		st := r.issuers[iss]
		st.mu.Lock()
		if st.jwks != nil {
			have++
		}
		if st.lastErr != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", iss, st.lastErr))
		}
		st.mu.Unlock()
	}
	msg := fmt.Sprintf("keys of %d of %d issuers resolved", have, len(r.order))
	if len(failures) > 0 {
		msg += " (" + strings.Join(failures, "; ") + ")"
	}
	return msg, have > 0
}

// keepFresh fetches an issuer's keys when due: at once, when the cache
// lifetime ends, and with growing back-off after a failure.
func (r *resolver) keepFresh(st *issuerKeys) {
	ctx := r.rt.ctx
	backoff := firstBackoff
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		st.mu.Lock()
		due := st.expires
		if st.lastErr != nil {
			due = st.lastAttempt.Add(backoff)
		}
		st.mu.Unlock()
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			continue
		}
		if err := r.refresh(ctx, st); err != nil {
			backoff = min(backoff*2, maxBackoff)
		} else {
			backoff = firstBackoff
		}
		timer.Reset(0)
	}
}

// refreshFor is called when the published keys cannot decide on token. If
// the token's issuer is allowed, its keys are fetched again, unless they
// were fetched within the cooldown (random kids must not hammer the
// issuer); a fetch under way is joined. An error is an outage: without keys
// there is no verdict.
func (r *resolver) refreshFor(ctx context.Context, token string) error {
	iss := peekIssuer(token)
	st := r.issuers[iss]
	if st == nil {
		return nil
	}
	st.mu.Lock()
	cooling := st.inflight == nil && time.Since(st.lastAttempt) < r.cooldown
	lastErr := st.lastErr
	st.mu.Unlock()
	if cooling {
		if lastErr != nil {
			return sdk.Unavailable("keys of issuer %q are unavailable: %v", iss, lastErr)
		}
		return nil
	}
	if err := r.refresh(ctx, st); err != nil {
		return sdk.Unavailable("keys of issuer %q are unavailable: %v", iss, err)
	}
	return nil
}

// refresh fetches the issuer's keys, or joins the fetch under way.
func (r *resolver) refresh(ctx context.Context, st *issuerKeys) error {
	st.mu.Lock()
	call := st.inflight
	if call == nil {
		call = &fetchCall{done: make(chan struct{})}
		st.inflight = call
		st.lastAttempt = time.Now()
		// Not tied to the runtime's WaitGroup: a Verify may still hold a
		// replaced runtime, and the fetch ends with its context anyway.
		go r.fetch(st, call)
	}
	st.mu.Unlock()
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fetch runs one fetch for all who wait on call, and publishes a change
// before waking them so they verify with the new keys.
func (r *resolver) fetch(st *issuerKeys, call *fetchCall) {
	ctx, cancel := context.WithTimeout(r.rt.ctx, fetchTimeout)
	doc, age, err := fetchKeys(ctx, r.rt.p.client, st.issuer)
	cancel()
	if err == nil {
		doc, err = r.usable(st.issuer, doc)
	}
	st.mu.Lock()
	changed := false
	if err != nil {
		st.lastErr = err
	} else {
		changed = !bytes.Equal(st.jwks, doc)
		st.jwks, st.lastErr = doc, nil
		st.expires = time.Now().Add(max(age, r.cooldown, minRefresh))
	}
	st.inflight = nil
	call.err = err
	st.mu.Unlock()
	if err != nil && r.rt.ctx.Err() == nil {
		r.rt.p.metrics.fetchErrors.WithLabelValues(st.issuer).Inc()
		r.rt.log.Warn("issuer keys could not be fetched", logIssuer, st.issuer, logError, err.Error())
	}
	if changed {
		r.rt.log.Info("issuer keys changed", logIssuer, st.issuer)
		r.rt.p.publish(r.rt)
	}
	close(call.done)
}

// usable pins the configured algorithm and keeps only the keys the verifier
// accepts, logging the others.
func (r *resolver) usable(issuer string, doc []byte) ([]byte, error) {
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil || set.Keys == nil {
		return nil, fmt.Errorf("JWKS of %s is not a JSON object with keys", issuer)
	}
	if r.algorithm != "" {
		kept := set.Keys[:0]
		for _, k := range set.Keys {
			switch alg, _ := k["alg"].(string); alg {
			case "":
				k = maps.Clone(k)
				k["alg"] = r.algorithm.String()
			case r.algorithm.String():
			default:
				r.rt.log.Warn("issuer key left out: its alg is not the configured one", logIssuer, issuer, "kid", k["kid"], "alg", alg)
				continue
			}
			kept = append(kept, k)
		}
		set.Keys = kept
	}
	pinned, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	kept, skipped, err := jwtverify.UsableKeys(pinned)
	if err != nil {
		return nil, err
	}
	for _, why := range skipped {
		r.rt.log.Warn("issuer key left out", logIssuer, issuer, logError, why.Error())
	}
	return kept, nil
}

// peekIssuer reads `iss` from a token without verifying it, only to pick
// whose keys to refresh.
func peekIssuer(token string) string {
	if len(token) > jwtverify.DefaultMaxTokenBytes*4 {
		return ""
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.Iss
}
