package spiffehelper_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/slimid/slimid/plugins/spire/spiretest"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// TestWithSPIRE feeds the plugin what spiffe-helper would write from a real
// SPIRE agent: the JWT-SVID as returned, key.jwt built from the Workload
// API's JWT bundles, and the X.509-SVID with its bundle. It needs SPIRE
// and skips under -short; run it with go test ./plugins/spiffehelper.
func TestWithSPIRE(t *testing.T) {
	env := spiretest.Start(t, spiretest.Options{})
	ctx := t.Context()
	client, err := workloadapi.New(ctx, workloadapi.WithAddr(env.WorkloadAPIAddr))
	if err != nil {
		t.Fatalf("workload API: %v", err)
	}
	defer client.Close()

	// spiffe-helper's jwt_audience may carry SLIM's slim-claims audience.
	mlsKey, _, _ := ed25519.GenerateKey(nil)
	claims, err := jwtverify.SlimClaimsAudience(map[string]any{"pubkey": base64.StdEncoding.EncodeToString(mlsKey)})
	if err != nil {
		t.Fatal(err)
	}
	var own *jwtsvid.SVID
	deadline := time.Now().Add(hangGuard)
	for own == nil {
		if own, err = client.FetchJWTSVID(ctx, jwtsvid.Params{Audience: "slim-demo", ExtraAudiences: []string{claims}}); err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("JWT-SVID: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	bundles, err := client.FetchJWTBundles(ctx)
	if err != nil {
		t.Fatalf("JWT bundles: %v", err)
	}
	keyJWT := map[string]string{}
	for _, b := range bundles.Bundles() {
		jwks, err := b.Marshal()
		if err != nil {
			t.Fatalf("marshal JWT bundle: %v", err)
		}
		keyJWT[b.TrustDomain().Name()] = base64.StdEncoding.EncodeToString(jwks)
	}
	keyJWTBytes, err := json.Marshal(keyJWT)
	if err != nil {
		t.Fatal(err)
	}
	x509ctx, err := client.FetchX509Context(ctx)
	if err != nil {
		t.Fatalf("X.509 context: %v", err)
	}
	svid := x509ctx.DefaultSVID()
	certPEM, keyPEM, err := svid.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	caBundle, err := x509ctx.Bundles.GetX509BundleForTrustDomain(svid.ID.TrustDomain())
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := caBundle.Marshal()
	if err != nil {
		t.Fatal(err)
	}

	h := newHelperDir(t, inPlace, 0)
	h.write(file{"jwt_svid.token", []byte(own.Marshal())}, file{"key.jwt", keyJWTBytes},
		file{"tls.crt", certPEM}, file{"tls.key", keyPEM}, file{"svid_bundle.pem", caPEM})
	p, _, _ := configured(t, h.dir, "")

	tok, err := p.FetchToken(ctx, sdk.TokenRequest{Audiences: []string{"slim-demo"}, PublicKey: mlsKey})
	if err != nil {
		t.Fatalf("FetchToken: %v", err)
	}
	if tok.Value != own.Marshal() || tok.Subject != env.WorkloadID {
		t.Fatalf("FetchToken = %+v; want SPIRE's JWT-SVID for %s", tok, env.WorkloadID)
	}
	id, err := p.Verify(ctx, sdk.VerifyRequest{Token: tok.Value})
	if err != nil {
		t.Fatalf("Verify(SPIRE's JWT-SVID): %v", err)
	}
	if id.Subject != env.WorkloadID || string(id.PublicKey) != string(mlsKey) || len(id.Audiences) != 1 {
		t.Fatalf("Verify = %+v; want %s with the bound key and the slim-claims audience stripped", id, env.WorkloadID)
	}
	if _, err := p.Verify(ctx, sdk.VerifyRequest{Token: tok.Value, Audiences: []string{"another"}}); err == nil {
		t.Fatal("Verify accepted SPIRE's JWT-SVID for another audience")
	}
	peer, err := p.VerifyX509(ctx, svid.Certificates, time.Time{})
	if err != nil {
		t.Fatalf("VerifyX509(SPIRE's X.509-SVID): %v", err)
	}
	if peer.Subject != env.WorkloadID || len(peer.PublicKey) != 65 {
		t.Fatalf("VerifyX509 = %+v; want %s with a 65-byte P-256 point", peer, env.WorkloadID)
	}
}
