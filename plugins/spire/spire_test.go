package spire_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/slimid/slimid/plugins/spire"
	"github.com/slimid/slimid/plugins/spire/spiretest"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
	"github.com/slimid/slimid/sdk/sdktest"
)

// forged signs a JWT-SVID-shaped token with a key no SPIRE server knows.
func forged(t testing.TB, sub string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "forged"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{
		Subject: sub, Audience: []string{"slim"},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestConformance(t *testing.T) {
	env := spiretest.Start(t, spiretest.Options{})
	// The in-process run reads the socket from the environment, as the
	// external binary does.
	t.Setenv("SPIFFE_ENDPOINT_SOCKET", env.WorkloadAPIAddr)
	var mu sync.Mutex
	var started []*spire.Plugin
	t.Cleanup(func() {
		for _, p := range started {
			_ = p.Close()
		}
	})
	sdktest.Run(t, sdktest.Suite{
		NewPlugin: func() sdk.Plugin {
			p := spire.New()
			mu.Lock()
			started = append(started, p)
			mu.Unlock()
			return p
		},
		Binary: "github.com/slimid/slimid/cmd/slimid-plugin-spire",
		Env:    []string{"SPIFFE_ENDPOINT_SOCKET=" + env.WorkloadAPIAddr},
		Config: []byte("jwt_audiences: [slim]\n"),
		InvalidConfigs: []sdktest.InvalidConfig{
			{Name: "unknown key", Config: []byte("jwt_audience: [slim]\n"), Want: `unknown key "jwt_audience"`},
			{Name: "empty audiences", Config: []byte("jwt_audiences: []\n"), Want: "jwt_audiences is empty"},
			{Name: "socket without scheme", Config: []byte("socket_path: /run/agent.sock\n"), Want: `has no scheme: write unix:///run/agent.sock`},
			{Name: "target not a SPIFFE ID", Config: []byte("target_spiffe_id: workload\n"), Want: `target_spiffe_id "workload" is not a SPIFFE ID`},
		},
		Audiences:      []string{"slim"},
		ChecksAudience: true,
		Rejected: []sdktest.RejectedToken{
			{Name: "signed by an unknown authority", Reason: sdk.ErrUntrusted,
				Token: func(t testing.TB) string { return forged(t, env.WorkloadID) }},
			{Name: "another trust domain", Reason: sdk.ErrUntrusted,
				Token: func(t testing.TB) string { return forged(t, "spiffe://other.test/workload") }},
		},
		ReadyTimeout: 30 * time.Second,
	})
}

func TestFetchAndVerify(t *testing.T) {
	env := spiretest.Start(t, spiretest.Options{JWTSVIDTTL: 2 * time.Minute})
	p := startPlugin(t, env, "jwt_audiences: [slim]\n")
	ctx := t.Context()
	key := mlsKey(t)

	tok, err := p.FetchToken(ctx, sdk.TokenRequest{PublicKey: key})
	if err != nil {
		t.Fatalf("FetchToken: %v", err)
	}
	if tok.Subject != env.WorkloadID || tok.IssuedAt.IsZero() || tok.ExpiresAt.Sub(tok.IssuedAt) != 2*time.Minute {
		t.Fatalf("token = %s, issued %s, expires %s; want %s for 2m", tok.Subject, tok.IssuedAt, tok.ExpiresAt, env.WorkloadID)
	}

	// On the wire: SLIM's extra audience, exactly.
	header, payload := jwtParts(t, tok.Value)
	if header["kid"] == "" || header["alg"] != "ES256" {
		t.Fatalf("header = %v; want ES256 with a kid", header)
	}
	wantClaims := "slim-claims:" + base64.StdEncoding.EncodeToString([]byte(`{"pubkey":"`+base64.StdEncoding.EncodeToString(key)+`"}`))
	if aud, _ := json.Marshal(payload["aud"]); string(aud) != `["slim","`+wantClaims+`"]` {
		t.Fatalf("aud = %s; want [slim, %s]", aud, wantClaims)
	}

	id, err := p.Verify(ctx, sdk.VerifyRequest{Token: tok.Value})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if id.Subject != env.WorkloadID || id.Issuer != "spiffe://example.org" || string(id.PublicKey) != string(key) ||
		!slices.Equal(id.Audiences, []string{"slim"}) || !id.ExpiresAt.Equal(tok.ExpiresAt) {
		t.Fatalf("identity = %+v; want %s, its bound key and audience [slim]", id, env.WorkloadID)
	}

	// The agent's own validation agrees: the token is a plain JWT-SVID.
	client, err := workloadapi.New(ctx, workloadapi.WithAddr(env.WorkloadAPIAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.ValidateJWTSVID(ctx, tok.Value, "slim"); err != nil {
		t.Fatalf("the agent refuses the token: %v", err)
	}

	t.Run("another audience is refused", func(t *testing.T) {
		_, err := p.Verify(ctx, sdk.VerifyRequest{Token: tok.Value, Audiences: []string{"other"}})
		if !errors.Is(err, sdk.ErrAudience) {
			t.Fatalf("Verify(audience other) = %v; want an audience mismatch", err)
		}
		other, err := p.FetchToken(ctx, sdk.TokenRequest{Audiences: []string{"other"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Verify(ctx, sdk.VerifyRequest{Token: other.Value}); !errors.Is(err, sdk.ErrAudience) {
			t.Fatalf("Verify(token for other, expecting slim) = %v; want an audience mismatch", err)
		}
		if id, err := p.Verify(ctx, sdk.VerifyRequest{Token: other.Value, Audiences: []string{"other"}}); err != nil || id.PublicKey != nil {
			t.Fatalf("Verify(token for other) = %+v, %v; want accepted, with no bound key", id, err)
		}
	})

	t.Run("expiry and leeway", func(t *testing.T) {
		// The default leeway is 30s.
		if _, err := p.Verify(ctx, sdk.VerifyRequest{Token: tok.Value, At: tok.ExpiresAt.Add(29 * time.Second)}); err != nil {
			t.Fatalf("Verify within the leeway: %v", err)
		}
		_, err := p.Verify(ctx, sdk.VerifyRequest{Token: tok.Value, At: tok.ExpiresAt.Add(31 * time.Second)})
		if !errors.Is(err, sdk.ErrExpired) {
			t.Fatalf("Verify past the leeway = %v; want expired", err)
		}
	})

	t.Run("the published keys reach the same verdict", func(t *testing.T) {
		snap := firstSnapshot(t, p)
		v, err := jwtverify.New(snap)
		if err != nil {
			t.Fatalf("jwtverify.New(published snapshot): %v", err)
		}
		local, err := v.Verify(tok.Value, nil, time.Now())
		if err != nil || local.Subject != id.Subject || string(local.PublicKey) != string(id.PublicKey) {
			t.Fatalf("in-process verification = %+v, %v; plugin said %+v", local, err, id)
		}
		if _, err := v.Verify(tok.Value, []string{"other"}, time.Now()); !errors.Is(err, sdk.ErrAudience) {
			t.Fatalf("in-process verification with audience other = %v; want an audience mismatch", err)
		}
		set, err := client.FetchJWTBundles(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := set.Get(spiffeid.RequireTrustDomainFromString(env.TrustDomain))
		if len(snap.KeySets) != 1 || snap.KeySets[0].Name != "example.org" || len(b.JWTAuthorities()) != keyCount(t, snap.KeySets[0].JWKS) {
			t.Fatalf("snapshot %+v does not mirror the agent's bundle of %d authorities", snap, len(b.JWTAuthorities()))
		}
	})
}

func TestTargetSPIFFEID(t *testing.T) {
	env := spiretest.Start(t, spiretest.Options{})
	second := "spiffe://example.org/second"
	env.CreateEntry(t, spiretest.Entry{SPIFFEID: second, Hint: "second"})

	p := startPlugin(t, env, "target_spiffe_id: "+second+"\n")
	ctx := t.Context()
	tok, err := p.FetchToken(ctx, sdk.TokenRequest{})
	if err != nil || tok.Subject != second {
		t.Fatalf("FetchToken = %s, %v; want a token for %s", tok.Subject, err, second)
	}
	svid, err := p.FetchX509SVID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := p.VerifyX509(ctx, svid.Chain, time.Now()); err != nil || id.Subject != second {
		t.Fatalf("X.509-SVID is %s, %v; want %s", id.Subject, err, second)
	}

	// An identity the agent does not issue: configured, but not ready.
	if _, err := p.Configure(ctx, configFor(env, "target_spiffe_id: spiffe://example.org/nobody\n")); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, false, "issues no SVID for target_spiffe_id spiffe://example.org/nobody")
	if _, err := p.FetchToken(ctx, sdk.TokenRequest{}); !errors.Is(err, sdk.ErrUnavailable) {
		t.Fatalf("FetchToken for an unissued identity = %v; want an outage", err)
	}
}

func TestSocketForms(t *testing.T) {
	env := spiretest.Start(t, spiretest.Options{})
	p := spire.New()
	t.Cleanup(func() { _ = p.Close() })
	// unix:/path, as SLIM's examples write it.
	if _, err := p.Configure(t.Context(), []byte("socket_path: unix:"+env.AgentSocket+"\n")); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, true, "from the SPIRE agent at unix://"+env.AgentSocket)
}

func firstSnapshot(t testing.TB, p *spire.Plugin) sdk.KeySnapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var got sdk.KeySnapshot
	stop := errors.New("got one")
	if err := p.WatchKeys(ctx, func(s sdk.KeySnapshot) error { got = s; return stop }); !errors.Is(err, stop) {
		t.Fatalf("WatchKeys: %v", err)
	}
	return got
}

func keyCount(t testing.TB, jwks []byte) int {
	t.Helper()
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &doc); err != nil {
		t.Fatal(err)
	}
	return len(doc.Keys)
}

func TestRSAAuthorityAndIssuer(t *testing.T) {
	env := spiretest.Start(t, spiretest.Options{JWTKeyType: "rsa-2048", JWTIssuer: "https://spire.example.org"})
	p := startPlugin(t, env, "")
	tok := fetch(t, p)
	header, payload := jwtParts(t, tok.Value)
	if header["alg"] != "RS256" || payload["iss"] != "https://spire.example.org" {
		t.Fatalf("header %v, iss %v; want RS256 from jwt_key_type rsa-2048 and the configured issuer", header, payload["iss"])
	}
	id, err := p.Verify(t.Context(), sdk.VerifyRequest{Token: tok.Value})
	if err != nil {
		t.Fatalf("Verify(RS256 JWT-SVID): %v", err)
	}
	if id.Issuer != "https://spire.example.org" || id.Subject != env.WorkloadID {
		t.Fatalf("identity %s from %s; want %s from https://spire.example.org", id.Subject, id.Issuer, env.WorkloadID)
	}
	var doc struct {
		Keys []struct {
			Kty string `json:"kty"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(firstSnapshot(t, p).KeySets[0].JWKS, &doc); err != nil || len(doc.Keys) != 1 || doc.Keys[0].Kty != "RSA" {
		t.Fatalf("published JWKS %+v, %v; want one RSA key", doc, err)
	}
}
