package spiffehelper_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/slimid/slimid/plugins/spiffehelper"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// watchKeys collects what WatchKeys publishes.
func watchKeys(t testing.TB, p *spiffehelper.Plugin) <-chan sdk.KeySnapshot {
	t.Helper()
	out := make(chan sdk.KeySnapshot, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.WatchKeys(t.Context(), func(s sdk.KeySnapshot) error {
			out <- s
			return nil
		})
	}()
	t.Cleanup(func() { <-done })
	return out
}

func nextSnapshot(t testing.TB, ch <-chan sdk.KeySnapshot) sdk.KeySnapshot {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(hangGuard):
		t.Fatal("WatchKeys published nothing")
		return sdk.KeySnapshot{}
	}
}

// kids lists the kids of each key set.
func kids(t testing.TB, snap sdk.KeySnapshot) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, ks := range snap.KeySets {
		var doc struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		if err := json.Unmarshal(ks.JWKS, &doc); err != nil {
			t.Fatalf("key set %q: %v", ks.Name, err)
		}
		for _, k := range doc.Keys {
			out[ks.Name] = append(out[ks.Name], k.Kid)
		}
	}
	return out
}

// TestBundleChangePublishedAtOnce: a rotation in key.jwt is a new snapshot
// with a higher generation; the same key.jwt written again is none. The
// broker's in-process check with the snapshot agrees with Verify.
func TestBundleChangePublishedAtOnce(t *testing.T) {
	dir := t.TempDir()
	a := newAuthority(t, "example.org")
	writeFile(t, dir, "key.jwt", keyJWT(t, a))
	writeFile(t, dir, "jwt_svid.token", []byte(a.sign(t, svidClaims{jti: "first"})))
	p, _, _ := configured(t, dir, "leeway: 10s\n")
	snaps := watchKeys(t, p)
	pushed := watchTokens(t, p, sdk.TokenRequest{})
	next(t, pushed)

	first := nextSnapshot(t, snaps)
	if got := fmt.Sprint(kids(t, first)); got != "map[example.org:[kid-example.org-1]]" {
		t.Fatalf("first snapshot kids %s", got)
	}
	ks := first.KeySets[0]
	wantRules := sdk.ClaimRules{Audiences: []string{"slim-demo"}, Leeway: 10 * time.Second, RequireKID: true, SPIFFETrustDomain: "example.org", SlimClaimsAudience: true}
	if fmt.Sprint(ks.Rules) != fmt.Sprint(wantRules) {
		t.Fatalf("rules %+v; want %+v", ks.Rules, wantRules)
	}

	a.addKey(t)
	rotated := keyJWT(t, a)
	writeFile(t, dir, "key.jwt", rotated)
	second := nextSnapshot(t, snaps)
	if second.Generation <= first.Generation {
		t.Fatalf("generation went from %d to %d; want it to grow", first.Generation, second.Generation)
	}
	if got := fmt.Sprint(kids(t, second)); got != "map[example.org:[kid-example.org-1 kid-example.org-2]]" {
		t.Fatalf("rotated snapshot kids %s", got)
	}

	// The same bytes again, then a token, so the plugin has read both.
	writeFile(t, dir, "key.jwt", rotated)
	fresh := a.sign(t, svidClaims{jti: "second"})
	writeFile(t, dir, "jwt_svid.token", []byte(fresh))
	if next(t, pushed).Value != fresh {
		t.Fatal("the new token was not pushed")
	}
	select {
	case s := <-snaps:
		t.Fatalf("an unchanged key.jwt published generation %d", s.Generation)
	default:
	}

	// The broker verifies in process with the snapshot; it must agree.
	local, err := jwtverify.New(second)
	if err != nil {
		t.Fatalf("jwtverify.New(snapshot): %v", err)
	}
	peer := a.sign(t, svidClaims{path: "/peer"})
	remote, err := p.Verify(t.Context(), sdk.VerifyRequest{Token: peer})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	here, err := local.Verify(peer, nil, time.Now())
	if err != nil {
		t.Fatalf("local verify: %v", err)
	}
	if here.Subject != remote.Subject || here.Subject != "spiffe://example.org/peer" || !here.ExpiresAt.Equal(remote.ExpiresAt) {
		t.Fatalf("local %+v and Verify %+v disagree", here, remote)
	}
}

// TestTokenDroppedWhenItsKeyLeavesTheBundle: peers would refuse a token
// whose key is gone, so the plugin stops handing it out.
func TestTokenDroppedWhenItsKeyLeavesTheBundle(t *testing.T) {
	dir := t.TempDir()
	a := newAuthority(t, "example.org")
	old := a.keys[0]
	a.addKey(t)
	writeFile(t, dir, "key.jwt", keyJWT(t, a))
	writeFile(t, dir, "jwt_svid.token", []byte(old.sign(t, a, svidClaims{})))
	p, tap, _ := configured(t, dir, "")
	if st := p.Status(t.Context()); !st.Ready {
		t.Fatalf("Status = %+v; want ready", st)
	}

	from := tap.mark()
	a.keys = a.keys[1:]
	writeFile(t, dir, "key.jwt", keyJWT(t, a))
	tap.wait(t, from, "JWT-SVID in use dropped after a key.jwt change")

	want := `no valid JWT-SVID: jwt_svid.token is not signed by a key in key.jwt (jwtverify: cannot decide with the published keys: kid "kid-example.org-1" is not among the published keys)`
	if _, err := p.FetchToken(t.Context(), sdk.TokenRequest{}); err == nil || err.Error() != want || !errors.Is(err, sdk.ErrUnavailable) {
		t.Fatalf("FetchToken = %v\nwant the outage %s", err, want)
	}
	if st := p.Status(t.Context()); st.Ready || st.Message != want {
		t.Fatalf("Status = %+v\nwant not ready: %s", st, want)
	}
}

// TestWaitsForFiles: configured on an empty cert_dir the plugin is not
// ready and every call is an outage; once spiffe-helper writes, it serves.
func TestWaitsForFiles(t *testing.T) {
	dir := t.TempDir()
	p, _, _ := configured(t, dir, "")
	ctx := t.Context()
	tokenFile := filepath.Join(dir, "jwt_svid.token")

	wantStatus := "no valid JWT-SVID: waiting for spiffe-helper to write " + tokenFile
	if st := p.Status(ctx); st.Ready || st.Message != wantStatus {
		t.Fatalf("Status = %+v; want not ready: %s", st, wantStatus)
	}
	outages := map[string]struct {
		err  error
		want string
	}{
		"FetchToken": {func() error { _, err := p.FetchToken(ctx, sdk.TokenRequest{}); return err }(), wantStatus},
		"Verify": {func() error { _, err := p.Verify(ctx, sdk.VerifyRequest{Token: "x.y.z"}); return err }(),
			"no JWT bundle yet: waiting for spiffe-helper to write " + filepath.Join(dir, "key.jwt")},
		"FetchX509SVID": {func() error { _, err := p.FetchX509SVID(ctx); return err }(),
			fmt.Sprintf("no valid X.509-SVID yet in %s, %s and %s", filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "svid_bundle.pem"))},
		"VerifyX509": {func() error { _, err := p.VerifyX509(ctx, nil, time.Time{}); return err }(),
			"no X.509 bundle yet: waiting for spiffe-helper to write " + filepath.Join(dir, "svid_bundle.pem")},
	}
	for call, o := range outages {
		if o.err == nil || o.err.Error() != o.want || !errors.Is(o.err, sdk.ErrUnavailable) {
			t.Errorf("%s = %v; want the outage %q", call, o.err, o.want)
		}
	}

	snaps := watchKeys(t, p)
	if empty := nextSnapshot(t, snaps); len(empty.KeySets) != 0 {
		t.Fatalf("first snapshot %+v; want an empty one before key.jwt exists", empty)
	}
	pushed := watchTokens(t, p, sdk.TokenRequest{Audiences: []string{"slim-demo"}})
	a := writeFixture(t, dir)
	got := next(t, pushed)
	if got.Subject != a.spiffeID("/workload") {
		t.Fatalf("pushed %+v; want the workload's token", got)
	}
	if snap := nextSnapshot(t, snaps); len(snap.KeySets) != 1 {
		t.Fatalf("snapshot after key.jwt %+v; want one key set", snap)
	}
	if st := p.Status(ctx); !st.Ready {
		t.Fatalf("Status = %+v; want ready", st)
	}
}

// TestReconfigure switches to another cert_dir: open streams follow, key
// generations keep growing, and a refused configuration changes nothing.
func TestReconfigure(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	a := newAuthority(t, "example.org")
	writeFile(t, dirA, "key.jwt", keyJWT(t, a))
	writeFile(t, dirA, "jwt_svid.token", []byte(a.sign(t, svidClaims{path: "/a"})))
	b := newAuthority(t, "other.org")
	writeFile(t, dirB, "key.jwt", keyJWT(t, b))
	writeFile(t, dirB, "jwt_svid.token", []byte(b.sign(t, svidClaims{path: "/b"})))

	p, _, _ := configured(t, dirA, "")
	pushed := watchTokens(t, p, sdk.TokenRequest{})
	snaps := watchKeys(t, p)
	if got := next(t, pushed).Subject; got != "spiffe://example.org/a" {
		t.Fatalf("first token for %s", got)
	}
	first := nextSnapshot(t, snaps)

	if _, err := p.Configure(t.Context(), fmt.Appendf(nil, "cert_dir: %s\njwt_audiences: [slim-demo]\n", dirB)); err != nil {
		t.Fatalf("Configure(B): %v", err)
	}
	if got := next(t, pushed).Subject; got != "spiffe://other.org/b" {
		t.Fatalf("token after reconfiguration for %s", got)
	}
	second := nextSnapshot(t, snaps)
	if second.Generation <= first.Generation || second.KeySets[0].Name != "other.org" {
		t.Fatalf("snapshot after reconfiguration %d %q; want a newer one for other.org", second.Generation, second.KeySets[0].Name)
	}
	if _, err := p.Verify(t.Context(), sdk.VerifyRequest{Token: a.sign(t, svidClaims{})}); !errors.Is(err, sdk.ErrUntrusted) {
		t.Fatalf("Verify(token of the old trust domain) = %v; want untrusted", err)
	}

	if _, err := p.Configure(t.Context(), []byte("cert_dir: relative\njwt_audiences: [a]\n")); err == nil {
		t.Fatal("Configure(invalid) succeeded")
	}
	tok, err := p.FetchToken(t.Context(), sdk.TokenRequest{})
	if err != nil || tok.Subject != "spiffe://other.org/b" {
		t.Fatalf("FetchToken after a refused configuration = %+v, %v; want B's token", tok, err)
	}
}

// TestClose ends streams and later calls as not configured.
func TestClose(t *testing.T) {
	dir := t.TempDir()
	writeFixture(t, dir)
	p, _, reg := configured(t, dir, "")
	errs := make(chan error, 1)
	go func() {
		errs <- p.WatchToken(t.Context(), sdk.TokenRequest{}, func(sdk.Token) error { return nil })
	}()
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-errs; !errors.Is(err, sdk.ErrNotConfigured) {
		t.Fatalf("WatchToken after Close = %v; want not configured", err)
	}
	if _, err := p.FetchToken(t.Context(), sdk.TokenRequest{}); !errors.Is(err, sdk.ErrNotConfigured) {
		t.Fatalf("FetchToken after Close = %v; want not configured", err)
	}
	if families, err := reg.Gather(); err != nil || len(families) != 0 {
		t.Fatalf("gauges after Close: %v, %v; want none", families, err)
	}
}
