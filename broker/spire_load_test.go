package broker_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/plugins/spire"
	"github.com/slimid/slimid/plugins/spire/spiretest"
	"github.com/slimid/slimid/sdk"
)

// The load test's shape. JWT-SVIDs live 10 s, so tokens expire during the
// run and an outage outlives the cached token; the agent stays down long
// enough for that.
const (
	loadWorkers  = 4
	loadRestarts = 3
	loadJWTTTL   = 10 * time.Second
	loadUp       = 3 * time.Second
	loadDown     = 4 * time.Second
	// freshWithin bounds the wait for a new token after a restart. The
	// plugin redials the agent at most 5 s (±20%) apart, so it reaches a
	// restarted agent within about 6 s; the rest is room for a loaded
	// machine.
	freshWithin = 15 * time.Second
)

// The spire plugin, built into a broker, under four goroutines that fetch
// tokens and verify genuine, expired and forged ones, while the SPIRE agent
// is killed and restarted three times: nothing expired or forged is ever
// accepted; unexpired tokens keep verifying with the cached bundles while
// the agent is down; FetchToken never hands out an expired token; after
// each restart a fresh token comes.
func TestAgentRestartsUnderLoad(t *testing.T) {
	t.Parallel()
	env := spiretest.Start(t, spiretest.Options{JWTSVIDTTL: loadJWTTTL, X509SVIDTTL: time.Minute})
	reg := prometheus.NewRegistry()
	cfg, err := broker.ParseConfig(fmt.Appendf(nil, "plugins:\n  - name: spire\n    type: spire\n    config:\n      socket_path: %q\n      leeway: 0s\n", env.WorkloadAPIAddr), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(t.Context(), cfg, broker.Options{
		Builtins:   broker.Builtins{spire.Name: func() sdk.Plugin { return spire.New() }},
		Registerer: reg,
	})
	if err != nil {
		t.Fatalf("broker.New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	readyCtx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := b.WaitReady(readyCtx, "spire"); err != nil {
		t.Fatal(err)
	}
	req := sdk.TokenRequest{PublicKey: p256Key(t)}
	first, err := b.FetchToken(t.Context(), "spire", req)
	if err != nil {
		t.Fatal(err)
	}
	kid := tokenKID(t, first.Value)
	l := &loadRun{b: b, req: req, tokens: map[string]time.Time{}}
	l.remember(first.Value, first.ExpiresAt)
	l.forged = []string{forgedWithKID(t, "forged", env.WorkloadID), forgedWithKID(t, kid, env.WorkloadID)}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range loadWorkers {
		wg.Go(func() { l.work(t.Context(), stop) })
	}
	var downs []window
	var freshAfter []time.Duration
	for range loadRestarts {
		time.Sleep(loadUp)
		env.KillAgent(t)
		down := window{from: time.Now()}
		time.Sleep(loadDown)
		down.to = time.Now()
		downs = append(downs, down)
		// Every token known now came from the agent before it died.
		seen := l.seen()
		env.StartAgent(t)
		freshAfter = append(freshAfter, l.waitFresh(t, seen))
	}
	time.Sleep(loadUp)
	close(stop)
	wg.Wait()

	l.check(t, downs)
	paths := verificationsByPath(t, reg, "spire")
	if paths["local/accepted"] == 0 {
		t.Errorf("no token was accepted in process with the published bundles (by path: %v)", paths)
	}
	t.Logf("%d agent restarts; %d fetches (%d served, %d unavailable); %d verifications (%d accepted, %d rejected, %d unavailable); "+
		"refused: %d expired, %d forged; accepted while the agent was down: %d; fresh token after each restart: %v; by path: %v",
		loadRestarts, l.fetched+l.fetchOutages, l.fetched, l.fetchOutages, len(l.verified),
		l.count(func(v verified) bool { return v.accepted }), l.count(func(v verified) bool { return v.rejected }),
		l.count(func(v verified) bool { return v.unavailable }),
		l.count(func(v verified) bool { return v.rejected && !v.forged && v.began.After(v.expires) }),
		l.count(func(v verified) bool { return v.rejected && v.forged }),
		l.count(func(v verified) bool { return v.accepted && inAny(downs, v) }),
		freshAfter, paths)
}

// loadRun is the shared state of the workers.
type loadRun struct {
	b      *broker.Broker
	req    sdk.TokenRequest
	forged []string

	mu           sync.Mutex
	tokens       map[string]time.Time // every token fetched, with its exp
	order        []string
	verified     []verified
	fetched      int
	fetchOutages int
	problems     []string
}

// verified is one verification through the broker.
type verified struct {
	forged                          bool
	expires                         time.Time
	began, ended                    time.Time
	accepted, rejected, unavailable bool
}

type window struct{ from, to time.Time }

// contains: the verification ran wholly inside the window.
func (w window) contains(v verified) bool { return !v.began.Before(w.from) && !v.ended.After(w.to) }

// inAny: the verification ran wholly inside one of the windows.
func inAny(ws []window, v verified) bool {
	for _, w := range ws {
		if w.contains(v) {
			return true
		}
	}
	return false
}

func (l *loadRun) remember(tok string, exp time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.tokens[tok]; !ok {
		l.tokens[tok] = exp
		l.order = append(l.order, tok)
	}
}

func (l *loadRun) problem(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

// seen is the set of tokens fetched so far.
func (l *loadRun) seen() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]bool, len(l.tokens))
	for tok := range l.tokens {
		out[tok] = true
	}
	return out
}

// pick chooses what to verify: mostly the newest token, else any token
// fetched so far (some expired by now), else a forged one.
func (l *loadRun) pick() (tok string, exp time.Time, forged bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch r := mrand.IntN(10); {
	case r < 5:
		tok = l.order[len(l.order)-1]
	case r < 8:
		tok = l.order[mrand.IntN(len(l.order))]
	default:
		return l.forged[mrand.IntN(len(l.forged))], time.Time{}, true
	}
	return tok, l.tokens[tok], false
}

// work fetches a token and verifies one, until stop.
func (l *loadRun) work(ctx context.Context, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done(): // the test ended early
			return
		case <-time.After(5 * time.Millisecond):
		}
		l.fetch(ctx)
		tok, exp, forged := l.pick()
		v := verified{forged: forged, expires: exp, began: time.Now()}
		_, err := l.b.Verify(ctx, "spire", sdk.VerifyRequest{Token: tok})
		v.ended = time.Now()
		v.accepted, v.rejected, v.unavailable = err == nil, errors.Is(err, sdk.ErrRejected), errors.Is(err, sdk.ErrUnavailable)
		if err != nil && !v.rejected && !v.unavailable {
			l.problem("Verify: %v is neither a verdict nor an outage", err)
		}
		l.mu.Lock()
		l.verified = append(l.verified, v)
		l.mu.Unlock()
	}
}

// fetch asks the broker for a token and checks it is unexpired.
func (l *loadRun) fetch(ctx context.Context) {
	tok, err := l.b.FetchToken(ctx, "spire", l.req)
	now := time.Now()
	switch {
	case errors.Is(err, sdk.ErrUnavailable):
		l.mu.Lock()
		l.fetchOutages++
		l.mu.Unlock()
		return
	case err != nil:
		l.problem("FetchToken: %v is not an outage", err)
		return
	}
	exp, err := expiry(tok.Value)
	switch {
	case err != nil:
		l.problem("FetchToken returned an unreadable token: %v", err)
		return
	case !exp.Equal(tok.ExpiresAt):
		l.problem("FetchToken says the token expires at %s; its exp claim says %s", tok.ExpiresAt, exp)
	case !exp.After(now):
		l.problem("FetchToken returned a token that expired at %s, at %s", exp, now)
	}
	l.remember(tok.Value, exp)
	l.mu.Lock()
	l.fetched++
	l.mu.Unlock()
}

// waitFresh fetches until the agent hands out a token not in seen, and
// returns how long that took.
func (l *loadRun) waitFresh(t *testing.T, seen map[string]bool) time.Duration {
	t.Helper()
	begin := time.Now()
	for time.Since(begin) < freshWithin {
		tok, err := l.b.FetchToken(t.Context(), "spire", l.req)
		if err == nil && !seen[tok.Value] && tok.ExpiresAt.After(time.Now()) {
			return time.Since(begin).Round(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no fresh token within %s of the agent's restart", freshWithin)
	return 0
}

// check asserts the invariants over every fetch and verification.
func (l *loadRun) check(t *testing.T, downs []window) {
	t.Helper()
	for _, p := range l.problems {
		t.Error(p)
	}
	for _, v := range l.verified {
		expired := !v.forged && v.began.After(v.expires)
		switch {
		case v.accepted && v.forged:
			t.Errorf("a forged token was accepted at %s", v.began.Format(time.RFC3339Nano))
		case v.accepted && expired:
			t.Errorf("a token that expired at %s was accepted at %s", v.expires.Format(time.RFC3339Nano), v.began.Format(time.RFC3339Nano))
		case v.rejected && !v.forged && v.ended.Before(v.expires):
			t.Errorf("a genuine token, unexpired until %s, was refused at %s: an outage turned into a verdict", v.expires.Format(time.RFC3339Nano), v.began.Format(time.RFC3339Nano))
		}
	}
	for i, w := range downs {
		accepted := l.count(func(v verified) bool { return v.accepted && w.contains(v) })
		unexpired := l.count(func(v verified) bool { return !v.forged && v.ended.Before(v.expires) && w.contains(v) })
		if accepted == 0 {
			t.Errorf("outage %d: of %d verifications of unexpired tokens while the agent was down, none was accepted; the cached bundles should verify them", i+1, unexpired)
		}
	}
}

func (l *loadRun) count(f func(verified) bool) int {
	n := 0
	for _, v := range l.verified {
		if f(v) {
			n++
		}
	}
	return n
}

// expiry reads a JWT's exp claim without verifying it.
func expiry(token string) (time.Time, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, fmt.Errorf("token has %d parts, want 3", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, err
	}
	var claims struct {
		Exp *float64 `json:"exp"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return time.Time{}, err
	}
	if claims.Exp == nil {
		return time.Time{}, errors.New("token has no exp claim")
	}
	return time.Unix(int64(*claims.Exp), 0), nil
}

// forgedWithKID signs a JWT-SVID-shaped token under the kid of a real JWT
// authority, with a key no SPIRE server knows.
func forgedWithKID(t testing.TB, kid, sub string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{
		Subject: sub, Audience: []string{"slim"},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour)),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// p256Key is a P-256 signature key in MLS form (65-byte uncompressed point).
func p256Key(t testing.TB) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e, err := k.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	return e.Bytes()
}

// tokenKID reads a JWT-SVID's kid without verifying it.
func tokenKID(t testing.TB, token string) string {
	t.Helper()
	sig, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil || len(sig.Signatures) != 1 {
		t.Fatalf("parse JWT-SVID: %v", err)
	}
	return sig.Signatures[0].Header.KeyID
}
