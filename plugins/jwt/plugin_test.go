package jwt_test

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/slimid/slimid/plugins/jwt"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

func TestInfoAndStatus(t *testing.T) {
	p, _ := newPlugin(t)
	if info := p.Info(); info.Name != jwt.Name || info.Version == "" {
		t.Fatalf("Info = %+v", info)
	}
	if st := p.Status(context.Background()); st.Ready || st.Message != "not configured" {
		t.Fatalf("Status before Configure = %+v", st)
	}
	configure(t, p, conformanceConfig)
	st := p.Status(context.Background())
	if want := `minting ES256 tokens for "org/ns/alice"; verifying with static keys`; !st.Ready || st.Message != want {
		t.Fatalf("Status = %+v; want ready, %q", st, want)
	}
	caps := sdk.CapabilitiesOf(p)
	for _, c := range []sdk.Capability{sdk.CapFetchToken, sdk.CapVerify, sdk.CapWatchKeys, sdk.CapStatus} {
		if !slices.Contains(caps, c) {
			t.Fatalf("capabilities %v lack %s", caps, c)
		}
	}
}

// TestPublishedSnapshot checks what WatchKeys publishes, and that the broker,
// verifying in process with it, reaches the plugin's own verdict.
func TestPublishedSnapshot(t *testing.T) {
	p, _ := newPlugin(t)
	configure(t, p, conformanceConfig)
	snap := waitSnapshot(t, watch(t, p), "a key set", func(s sdk.KeySnapshot) bool { return len(s.KeySets) == 1 })
	ks := snap.KeySets[0]
	want := sdk.ClaimRules{Issuers: []string{"corp-issuer"}, Audiences: []string{"slim"}, Leeway: time.Minute}
	if ks.Name != "corp-issuer" || !reflect.DeepEqual(ks.Rules, want) {
		t.Fatalf("key set = %s %+v", ks.Name, ks.Rules)
	}
	set, err := jwk.Parse(ks.JWKS)
	if err != nil || set.Len() != 1 {
		t.Fatalf("JWKS %s: %v", ks.JWKS, err)
	}
	if k, _ := set.Key(0); k.Algorithm().String() != "ES256" || k.KeyID() != "" {
		t.Fatalf("published key alg %q kid %q; want ES256 and no kid", k.Algorithm(), k.KeyID())
	}
	if priv, _ := jwk.IsPrivateKey(func() jwk.Key { k, _ := set.Key(0); return k }()); priv {
		t.Fatal("a private key was published")
	}

	ctx := context.Background()
	tok, err := p.FetchToken(ctx, sdk.TokenRequest{PublicKey: []byte("bound key")})
	if err != nil {
		t.Fatal(err)
	}
	broker, err := jwtverify.New(snap)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	local, err := broker.Verify(tok.Value, nil, at)
	if err != nil {
		t.Fatal(err)
	}
	remote, err := p.Verify(ctx, sdk.VerifyRequest{Token: tok.Value, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(local, remote) {
		t.Fatalf("broker: %+v\nplugin: %+v", local, remote)
	}
}

// TestReconfigurePublishes checks that a WatchKeys stream carries on across
// Configure, with a larger generation and the new keys.
func TestReconfigurePublishes(t *testing.T) {
	p, _ := newPlugin(t)
	configure(t, p, "verifier:\n  claims: {audience: [slim]}\n  key: {type: decoding, format: jwks, key: {file: testdata/members.jwks}}\n")
	snaps := watch(t, p)
	first := waitSnapshot(t, snaps, "two keys", func(s sdk.KeySnapshot) bool { return len(kids(s)) == 2 })
	configure(t, p, conformanceConfig)
	next := waitSnapshot(t, snaps, "the conformance key", func(s sdk.KeySnapshot) bool {
		return len(s.KeySets) == 1 && s.KeySets[0].Name == "corp-issuer"
	})
	if next.Generation <= first.Generation {
		t.Fatalf("generation %d after %d", next.Generation, first.Generation)
	}
	_, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: signWith(t, "ES256", privateKey(t, "es256_private.pem"), map[string]any{"kid": "es256-1"}, conformanceClaims(nil))})
	wantErr(t, err, sdk.ErrInvalid, `signature does not verify with any published key`)
}
