package spire

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

var testNow = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// authority is a JWT signing key of a trust domain.
type authority struct {
	kid  string
	priv crypto.Signer
}

func newAuthority(t testing.TB, kid string) authority {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return authority{kid: kid, priv: priv}
}

// sign makes a JWT-SVID the way SPIRE does (ES256, kid, typ JWT).
func (a authority) sign(t testing.TB, sub string, aud []string, iat time.Time, ttl time.Duration) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: a.priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", a.kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{
		Subject:  sub,
		Audience: aud,
		IssuedAt: jwt.NewNumericDate(iat),
		Expiry:   jwt.NewNumericDate(iat.Add(ttl)),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func bundleOf(td string, auths ...authority) *jwtbundle.Bundle {
	keys := map[string]crypto.PublicKey{}
	for _, a := range auths {
		keys[a.kid] = a.priv.Public()
	}
	return jwtbundle.FromJWTAuthorities(spiffeid.RequireTrustDomainFromString(td), keys)
}

func TestBuildSnapshot(t *testing.T) {
	a1, a2 := newAuthority(t, "kid-b"), newAuthority(t, "kid-a")
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	fed := authority{kid: "ed", priv: edPriv}
	set := jwtbundle.NewSet(bundleOf("z.example", fed), bundleOf("example.org", a1, a2))
	rules := verifyRules{audiences: []string{"slim"}, leeway: 7 * time.Second}

	snap, skipped := buildSnapshot(set, rules, 3)
	if len(skipped) != 0 {
		t.Fatalf("buildSnapshot skipped %v", skipped)
	}
	if snap.Generation != 3 || len(snap.KeySets) != 2 {
		t.Fatalf("snapshot = generation %d, %d key sets; want 3 and 2", snap.Generation, len(snap.KeySets))
	}
	for i, want := range []struct {
		name string
		kids []string
	}{{"example.org", []string{"kid-a", "kid-b"}}, {"z.example", []string{"ed"}}} {
		ks := snap.KeySets[i]
		wantRules := sdk.ClaimRules{Audiences: []string{"slim"}, Leeway: 7 * time.Second, RequireKID: true, SPIFFETrustDomain: want.name, SlimClaimsAudience: true}
		if ks.Name != want.name {
			t.Fatalf("key set %d is %q; want %q (sorted by trust domain)", i, ks.Name, want.name)
		}
		if got := ks.Rules; got.Leeway != wantRules.Leeway || !slices.Equal(got.Audiences, wantRules.Audiences) ||
			got.RequireKID != true || got.SPIFFETrustDomain != want.name || got.SlimClaimsAudience != true ||
			len(got.Issuers) != 0 || len(got.SubjectPatterns) != 0 {
			t.Fatalf("key set %s rules = %+v; want %+v", ks.Name, got, wantRules)
		}
		var doc struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.Unmarshal(ks.JWKS, &doc); err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, k := range doc.Keys {
			kids = append(kids, k["kid"].(string))
			if _, ok := k["alg"]; ok {
				t.Fatalf("JWK carries alg %v; SPIRE's bundles have none and the key type decides", k["alg"])
			}
		}
		if !slices.Equal(kids, want.kids) {
			t.Fatalf("key set %s kids = %v; want %v (sorted)", ks.Name, kids, want.kids)
		}
	}

	again, _ := buildSnapshot(jwtbundle.NewSet(bundleOf("example.org", a2, a1), bundleOf("z.example", fed)), rules, 3)
	for i := range again.KeySets {
		if string(again.KeySets[i].JWKS) != string(snap.KeySets[i].JWKS) {
			t.Fatalf("equal bundles gave different JWKS bytes:\n%s\n%s", again.KeySets[i].JWKS, snap.KeySets[i].JWKS)
		}
	}
}

func TestSnapshotVerifiesSPIRETokens(t *testing.T) {
	auth := newAuthority(t, "k1")
	other := newAuthority(t, "k1") // same kid, another key
	// A key with no JWK form (X25519 cannot sign) is left out; the
	// others still verify.
	odd, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bundle := bundleOf("example.org", auth)
	if err := bundle.AddJWTAuthority("x25519", odd.PublicKey()); err != nil {
		t.Fatal(err)
	}
	snap, skipped := buildSnapshot(jwtbundle.NewSet(bundle), verifyRules{audiences: []string{"slim"}, leeway: time.Second}, 1)
	if len(skipped) != 1 || !strings.Contains(skipped[0].Error(), `trust domain example.org: JWT authority "x25519" has no JWK form`) {
		t.Fatalf("skipped = %v; want the X25519 key named", skipped)
	}
	v, err := jwtverify.New(snap)
	if err != nil {
		t.Fatalf("jwtverify.New: %v", err)
	}
	key := make([]byte, 65)
	key[0] = 4
	claims, err := jwtverify.SlimClaimsAudience(map[string]any{"pubkey": base64.StdEncoding.EncodeToString(key)})
	if err != nil {
		t.Fatal(err)
	}
	good := auth.sign(t, "spiffe://example.org/workload", []string{"slim", claims}, testNow, time.Minute)

	id, err := v.Verify(good, nil, testNow)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if id.Subject != "spiffe://example.org/workload" || !slices.Equal(id.Audiences, []string{"slim"}) || string(id.PublicKey) != string(key) {
		t.Fatalf("identity = %s %v %x; want the workload, [slim] and the bound key", id.Subject, id.Audiences, id.PublicKey)
	}
	for _, tc := range []struct {
		name  string
		token string
		at    time.Time
		want  error
	}{
		{"expired beyond leeway", good, testNow.Add(time.Minute + 2*time.Second), sdk.ErrExpired},
		{"forged with the same kid", other.sign(t, "spiffe://example.org/workload", []string{"slim"}, testNow, time.Minute), testNow, sdk.ErrInvalid},
		{"other audience", auth.sign(t, "spiffe://example.org/workload", []string{"other"}, testNow, time.Minute), testNow, sdk.ErrAudience},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := v.Verify(tc.token, nil, tc.at); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v; want %v", err, tc.want)
			}
		})
	}
	if _, err := v.Verify(auth.sign(t, "spiffe://other.org/w", []string{"slim"}, testNow, time.Minute), nil, testNow); !errors.Is(err, jwtverify.ErrUndecided) {
		t.Fatalf("token of another trust domain = %v; want undecided", err)
	}
}

func TestKeyHubGenerations(t *testing.T) {
	h := newKeyHub(discard)
	h.setRules(verifyRules{audiences: []string{"slim"}})
	if _, v, _ := h.current(); v != nil {
		t.Fatal("a verifier before any bundle")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan sdk.KeySnapshot, 10)
	done := make(chan error, 1)
	go func() {
		done <- h.watch(ctx, func(s sdk.KeySnapshot) error { got <- s; return nil })
	}()

	a1, a2 := newAuthority(t, "k1"), newAuthority(t, "k2")
	h.setBundles(jwtbundle.NewSet(bundleOf("example.org", a1)))
	first := <-got
	h.setBundles(jwtbundle.NewSet(bundleOf("example.org", a1))) // resent on reconnection
	h.setBundles(jwtbundle.NewSet(bundleOf("example.org", a1, a2)))
	second := <-got
	h.setRules(verifyRules{audiences: []string{"slim"}}) // unchanged
	h.setRules(verifyRules{audiences: []string{"other"}, leeway: time.Second})
	third := <-got

	if first.Generation != 1 || second.Generation != 2 || third.Generation != 3 {
		t.Fatalf("generations %d, %d, %d; want 1, 2, 3 (an unchanged bundle or rule makes none)", first.Generation, second.Generation, third.Generation)
	}
	if !slices.Equal(third.KeySets[0].Rules.Audiences, []string{"other"}) {
		t.Fatalf("rules after reconfiguration: %+v", third.KeySets[0].Rules)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("watch = %v; want canceled", err)
	}
	select {
	case s := <-got:
		t.Fatalf("extra snapshot %d", s.Generation)
	default:
	}

	stop := errors.New("stop")
	if err := h.watch(t.Context(), func(sdk.KeySnapshot) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("watch with a failing send = %v; want its error", err)
	}
}

func TestRefreshAt(t *testing.T) {
	tok := sdk.Token{IssuedAt: testNow, ExpiresAt: testNow.Add(100 * time.Second)}
	for range 200 {
		at := refreshAt(tok, testNow.Add(time.Second))
		if at.Before(testNow.Add(50*time.Second)) || at.After(testNow.Add(60*time.Second)) {
			t.Fatalf("refreshAt = +%s; want between half and 60%% of the lifetime", at.Sub(testNow))
		}
	}
	late := testNow.Add(80 * time.Second)
	if at := refreshAt(tok, late); !at.After(late) || at.After(late.Add(time.Second)) {
		t.Fatalf("past the renewal point: refreshAt = +%s; want within a second", at.Sub(late))
	}
	nearEnd := testNow.Add(99 * time.Second)
	if at := refreshAt(tok, nearEnd); !at.Before(tok.ExpiresAt) {
		t.Fatalf("a second before expiry: refreshAt = +%s; want before the expiry", at.Sub(testNow))
	}
}

func TestNumericDate(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want time.Time
	}{
		{float64(1796400000), time.Unix(1796400000, 0).UTC()},
		{json.Number("1796400000.5"), time.Unix(1796400000, 5e8).UTC()},
		{int64(1796400000), time.Unix(1796400000, 0).UTC()},
		{"1796400000", time.Time{}},
		{nil, time.Time{}},
	} {
		if got := numericDate(tc.in); !got.Equal(tc.want) {
			t.Errorf("numericDate(%#v) = %s; want %s", tc.in, got, tc.want)
		}
	}
}

func TestAudiencesFor(t *testing.T) {
	key := []byte{1, 2, 3}
	got, err := audiencesFor(sdk.TokenRequest{PublicKey: key}, []string{"slim"})
	if err != nil {
		t.Fatal(err)
	}
	// SLIM's exact form: std base64 of {"pubkey":"<std base64 key>"}.
	want := "slim-claims:" + base64.StdEncoding.EncodeToString([]byte(`{"pubkey":"AQID"}`))
	if !slices.Equal(got, []string{"slim", want}) {
		t.Fatalf("audiences = %q; want [slim %s]", got, want)
	}
	for _, tc := range []struct {
		name string
		req  sdk.TokenRequest
		want string
	}{
		{"reserved audience", sdk.TokenRequest{Audiences: []string{"slim-claims:x"}}, `token request: audience "slim-claims:x" uses the reserved prefix "slim-claims:", which carries the bound key: remove it`},
		{"empty audience", sdk.TokenRequest{Audiences: []string{""}}, "token request: an audience is empty: remove it or name the audience"},
		{"oversized key", sdk.TokenRequest{PublicKey: make([]byte, 300)}, "token request: public key is 300 bytes; an MLS signature key has at most 256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := audiencesFor(tc.req, []string{"slim"})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("audiencesFor = %v; want %s", err, tc.want)
			}
		})
	}
}
