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
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/sdktest"
)

// The kill loop's shape: restart backoff as configured for the broker, and
// the supervisor's ±20% jitter around it.
const (
	faultKills          = 10
	faultVerifiers      = 4
	faultInitialBackoff = 50 * time.Millisecond
	faultMaxBackoff     = time.Second
	faultJitter         = 0.2
)

// faultTarget is an external plugin under the kill loop, and a supply of
// tokens it must accept (good) and refuse (bad). Token functions are called
// from several goroutines.
type faultTarget struct {
	name  string
	entry string
	good  func(i int) (string, error)
	bad   func(i int) (string, error)
	// local: verifications are expected on the broker's in-process path.
	local bool
}

// An external plugin SIGKILLed again and again under a verify load: no bad
// token is ever accepted; nothing is accepted between the kernel's exit of a
// process and the start of its replacement; every kill is followed by a
// restart within the configured backoff; the restart counter counts them.
func TestKillLoopUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts external plugin binaries for several seconds; run without -short: go test -run TestKillLoopUnderLoad ./broker")
	}
	t.Run("shared_secret", func(t *testing.T) { runKillLoop(t, sharedSecretTarget(t)) })
	t.Run("jwt", func(t *testing.T) { runKillLoop(t, jwtTarget(t)) })
}

// sharedSecretTarget: the external shared-secret plugin; good tokens are
// one repeated token (the cache answers) and fresh ones (the plugin
// answers); bad ones are tampered or minted with another secret.
func sharedSecretTarget(t *testing.T) faultTarget {
	ours, theirs := minter(t, secretA), minter(t, secretB)
	fetch := func(p interface {
		FetchToken(context.Context, sdk.TokenRequest) (sdk.Token, error)
	}) (string, error) {
		tok, err := p.FetchToken(context.Background(), sdk.TokenRequest{PublicKey: make([]byte, 32)})
		return tok.Value, err
	}
	repeated := mint(t, ours)
	return faultTarget{
		name:  "ext",
		entry: entry(t, "ext", secretA, true, ""),
		good: func(i int) (string, error) {
			if i%2 == 0 {
				return repeated, nil
			}
			return fetch(ours)
		},
		bad: func(i int) (string, error) {
			if i%2 == 0 {
				tok, err := fetch(ours)
				return tamper(tok), err
			}
			return fetch(theirs)
		},
	}
}

// jwtTarget: the external jwt plugin with a static JWKS, whose keys the
// broker verifies in process. Bad tokens: signed by a stranger under a known
// kid (refused in process) or an unknown kid (refused by the plugin),
// expired, of another issuer, for another audience.
func jwtTarget(t *testing.T) faultTarget {
	trusted := newJWTSigner(t, "fault-1")
	stranger := newJWTSigner(t, "fault-1")
	unknown := newJWTSigner(t, "fault-unknown")
	jwks := filepath.Join(t.TempDir(), "members.jwks")
	writeFile(t, filepath.Dir(jwks), filepath.Base(jwks), trusted.jwks(t))
	path, sum := sdktest.BuildBinary(t, "github.com/slimid/slimid/cmd/slimid-plugin-jwt")
	cfg := fmt.Sprintf("  - name: corp\n    path: %s\n    sha256: %s\n    config:\n      verifier:\n"+
		"        claims: {issuer: fault-issuer, audience: [slim]}\n"+
		"        key: {type: decoding, format: jwks, key: {file: %q}}\n", path, sum, jwks)
	claims := func(mod func(map[string]any)) map[string]any {
		now := time.Now()
		c := map[string]any{
			"iss": "fault-issuer", "aud": []string{"slim"}, "sub": "org/ns/alice",
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"jti":    fmt.Sprint(mrand.Uint64()),
			"pubkey": base64.StdEncoding.EncodeToString(make([]byte, 32)),
		}
		if mod != nil {
			mod(c)
		}
		return c
	}
	repeated, err := trusted.sign(claims(nil))
	if err != nil {
		t.Fatal(err)
	}
	return faultTarget{
		name:  "corp",
		entry: cfg,
		local: true,
		good: func(i int) (string, error) {
			if i%2 == 0 {
				return repeated, nil
			}
			return trusted.sign(claims(nil))
		},
		bad: func(i int) (string, error) {
			switch i % 5 {
			case 0:
				return stranger.sign(claims(nil))
			case 1:
				return unknown.sign(claims(nil))
			case 2:
				return trusted.sign(claims(func(c map[string]any) {
					c["iat"], c["nbf"], c["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-10*time.Minute).Unix()
				}))
			case 3:
				return trusted.sign(claims(func(c map[string]any) { c["iss"] = "other-issuer" }))
			default:
				return trusted.sign(claims(func(c map[string]any) { c["aud"] = []string{"other"} }))
			}
		},
	}
}

// jwtSigner signs ES256 tokens under one kid.
type jwtSigner struct {
	kid    string
	key    *ecdsa.PrivateKey
	signer jose.Signer
}

func newJWTSigner(t *testing.T, kid string) *jwtSigner {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	return &jwtSigner{kid: kid, key: key, signer: signer}
}

func (s *jwtSigner) sign(claims map[string]any) (string, error) {
	return josejwt.Signed(s.signer).Claims(claims).Serialize()
}

func (s *jwtSigner) jwks(t *testing.T) string {
	t.Helper()
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &s.key.PublicKey, KeyID: s.kid}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(doc)
}

// verification is one call's outcome, with its times since the loop began.
type verification struct {
	good          bool
	began, ended  time.Duration
	accepted      bool
	rejected      bool
	unavailable   bool
	unclassified  error
	tokenProblems error
}

// outage is one kill: when the signal was sent, when the kernel reported
// the exit, when the replacement's start began and when it served.
type outage struct {
	pid                         int
	killed, exited, started, up time.Duration
}

func runKillLoop(t *testing.T, target faultTarget) {
	reg := prometheus.NewRegistry()
	yaml := fmt.Sprintf("restart: {initial_backoff: %s, max_backoff: %s}\nplugins:\n%s", faultInitialBackoff, faultMaxBackoff, target.entry)
	b, err := broker.New(context.Background(), parse(t, yaml), broker.Options{Builtins: builtins, Registerer: reg})
	if err != nil {
		t.Fatalf("broker.New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	ctx := t.Context()
	t0 := time.Now()

	stop := make(chan struct{})
	logs := make([][]verification, faultVerifiers)
	var wg sync.WaitGroup
	for w := range faultVerifiers {
		wg.Go(func() {
			for i := w; ; i += faultVerifiers {
				select {
				case <-stop:
					return
				case <-ctx.Done(): // the test ended early
					return
				default:
				}
				v := verification{good: i%3 != 0}
				var tok string
				if v.good {
					tok, v.tokenProblems = target.good(i / 3)
				} else {
					tok, v.tokenProblems = target.bad(i / 3)
				}
				v.began = time.Since(t0)
				_, err := b.Verify(ctx, target.name, sdk.VerifyRequest{Token: tok})
				v.ended = time.Since(t0)
				v.accepted = err == nil
				v.rejected = errors.Is(err, sdk.ErrRejected)
				v.unavailable = errors.Is(err, sdk.ErrUnavailable)
				if err != nil && !v.rejected && !v.unavailable {
					v.unclassified = err
				}
				logs[w] = append(logs[w], v)
				if v.unavailable {
					// A real caller backs off; spinning would starve the restart.
					time.Sleep(time.Millisecond)
				}
			}
		})
	}

	outages := make([]outage, 0, faultKills)
	cur := pluginStatus(t, b, target.name)
	for range faultKills {
		time.Sleep(50*time.Millisecond + mrand.N(250*time.Millisecond))
		waitExit := exitWaiter(t, cur.Pid)
		o := outage{pid: cur.Pid, killed: time.Since(t0)}
		if err := syscall.Kill(cur.Pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", cur.Pid, err)
		}
		waitExit()
		o.exited = time.Since(t0)
		cur = waitReplacement(t, b, target.name, cur.Pid)
		o.up = time.Since(t0)
		o.started = cur.StartedAt.Sub(t0)
		outages = append(outages, o)
	}
	time.Sleep(100 * time.Millisecond) // the last replacement serves under load too
	close(stop)
	wg.Wait()

	var all []verification
	for _, l := range logs {
		all = append(all, l...)
	}
	checkKillLoop(t, all, outages)
	if got := pluginStatus(t, b, target.name).Restarts; got != faultKills {
		t.Errorf("restart counter = %d; want %d, one per kill", got, faultKills)
	}
	paths := verificationsByPath(t, reg, target.name)
	if target.local && paths["local/accepted"] == 0 {
		t.Errorf("no verification was accepted in process with the published keys (by path: %v)", paths)
	}
	var accepted, rejected, unavailable int
	for _, v := range all {
		accepted += btoi(v.accepted)
		rejected += btoi(v.rejected)
		unavailable += btoi(v.unavailable)
	}
	t.Logf("%d kills, %d verifications: %d accepted, %d rejected, %d unavailable; by path: %v",
		len(outages), len(all), accepted, rejected, unavailable, paths)
}

// checkKillLoop asserts the kill loop's invariants over every verification.
func checkKillLoop(t *testing.T, all []verification, outages []outage) {
	t.Helper()
	for _, v := range all {
		switch {
		case v.tokenProblems != nil:
			t.Fatalf("making a token: %v", v.tokenProblems)
		case v.unclassified != nil:
			t.Errorf("%v is neither a verdict nor an outage", v.unclassified)
		case v.accepted && !v.good:
			t.Errorf("a bad token was accepted at %s", v.began)
		case v.rejected && v.good:
			t.Errorf("a good token was refused at %s: an outage turned into a verdict", v.began)
		}
	}
	lowest := time.Duration(float64(faultInitialBackoff) * (1 - faultJitter))
	highest := time.Duration(float64(faultMaxBackoff) * (1 + faultJitter))
	for k, o := range outages {
		// Down: from the kernel's exit to the replacement's start. Nothing
		// that began and ended inside may be accepted.
		var inside, acceptedInside, unavailable int
		for _, v := range all {
			if v.began >= o.exited && v.ended <= o.started {
				inside++
				acceptedInside += btoi(v.accepted)
				unavailable += btoi(v.unavailable)
			}
		}
		if acceptedInside != 0 {
			t.Errorf("kill %d (pid %d): %d of %d verifications made while it was down were accepted", k+1, o.pid, acceptedInside, inside)
		}
		if inside == 0 {
			t.Errorf("kill %d (pid %d): no verification ran while it was down; the check above saw nothing", k+1, o.pid)
		}
		// The restart waits the jittered backoff after the exit: never
		// sooner than its lower bound after the signal, never later than
		// the largest backoff after the kernel reported the exit.
		if d := o.started - o.killed; d < lowest {
			t.Errorf("kill %d: replacement started %s after the signal; the backoff allows no less than %s", k+1, d, lowest)
		}
		if d := o.started - o.exited; d > highest {
			t.Errorf("kill %d: replacement started %s after the exit; the backoff allows no more than %s", k+1, d, highest)
		}
		t.Logf("kill %d: pid %d exited %s after the signal; replacement started %s later, serving after %s more; %d verifications while down, %d unavailable",
			k+1, o.pid, o.exited-o.killed, o.started-o.exited, o.up-o.started, inside, unavailable)
	}
}

// pluginStatus returns the named plugin's status.
func pluginStatus(t *testing.T, b *broker.Broker, name string) broker.PluginStatus {
	t.Helper()
	for _, p := range b.Plugins(t.Context()) {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no plugin %s", name)
	return broker.PluginStatus{}
}

// waitReplacement waits until another process than oldPid serves the
// plugin. The deadline only keeps a broken build from hanging.
func waitReplacement(t *testing.T, b *broker.Broker, name string, oldPid int) broker.PluginStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if p := pluginStatus(t, b, name); p.Up && p.Pid != 0 && p.Pid != oldPid {
			return p
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("plugin %s was not restarted after pid %d was killed", name, oldPid)
	return broker.PluginStatus{}
}

// verificationsByPath reads slimid_verifications_total for the plugin as
// "path/outcome" counts.
func verificationsByPath(t *testing.T, reg *prometheus.Registry, plugin string) map[string]int {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, f := range families {
		if f.GetName() != "slimid_verifications_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["plugin"] == plugin {
				out[labels["path"]+"/"+labels["outcome"]] += int(m.GetCounter().GetValue())
			}
		}
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
