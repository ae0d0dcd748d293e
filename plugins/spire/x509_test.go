package spire_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"maps"
	"math/big"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/slimid/slimid/plugins/spire/spiretest"
	"github.com/slimid/slimid/sdk"
)

func TestX509SVID(t *testing.T) {
	t.Parallel()
	other := spiretest.Start(t, spiretest.Options{TrustDomain: "other.test"})
	env := spiretest.Start(t, spiretest.Options{})
	p := startPlugin(t, env, "")
	ctx := t.Context()

	svid, err := p.FetchX509SVID(ctx)
	if err != nil {
		t.Fatalf("FetchX509SVID: %v", err)
	}
	leaf := svid.Chain[0]
	priv, ok := svid.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		t.Fatalf("SVID key is %T; want SPIRE's default EC P-256", svid.PrivateKey)
	}
	if len(svid.Bundles["example.org"]) == 0 || len(svid.Bundles) != 1 {
		t.Fatalf("bundles = %v; want the example.org CA only", slices.Sorted(maps.Keys(svid.Bundles)))
	}

	id, err := p.VerifyX509(ctx, svid.Chain, time.Now())
	if err != nil {
		t.Fatalf("VerifyX509(own SVID): %v", err)
	}
	wantKey, _ := priv.PublicKey.ECDH()
	if id.Subject != env.WorkloadID || string(id.PublicKey) != string(wantKey.Bytes()) || len(id.PublicKey) != 65 || !id.ExpiresAt.Equal(leaf.NotAfter) {
		t.Fatalf("identity = %s key %x; want %s with the 65-byte point of the SVID key", id.Subject, id.PublicKey, env.WorkloadID)
	}

	otherSVID, err := startPlugin(t, other, "").FetchX509SVID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
		at    time.Time
		want  error
	}{
		{"another trust domain", otherSVID.Chain, time.Now(), sdk.ErrUntrusted},
		{"another CA claiming the trust domain", impostorChain(t, env.WorkloadID), time.Now(), sdk.ErrUntrusted},
		{"expired", svid.Chain, leaf.NotAfter.Add(time.Second), sdk.ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.VerifyX509(ctx, tc.chain, tc.at); !errors.Is(err, tc.want) {
				t.Fatalf("VerifyX509 = %v; want %v", err, tc.want)
			}
		})
	}

	t.Run("over the wire", func(t *testing.T) {
		served, err := sdk.ServeInProcess(p, "spire", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer served.Close()
		// The same configuration again: the running connection stays.
		if _, err := served.Client.Configure(ctx, configFor(env, "")); err != nil {
			t.Fatal(err)
		}
		got, err := served.Client.FetchX509SVID(ctx)
		if err != nil {
			t.Fatalf("FetchX509SVID: %v", err)
		}
		wid, err := served.Client.VerifyX509(ctx, got.Chain, time.Time{})
		if err != nil || wid.Subject != id.Subject || string(wid.PublicKey) != string(id.PublicKey) {
			t.Fatalf("VerifyX509 over the wire = %+v, %v; in process %+v", wid, err, id)
		}
		if _, err := served.Client.VerifyX509(ctx, otherSVID.Chain, time.Time{}); !errors.Is(err, sdk.ErrUntrusted) {
			t.Fatalf("VerifyX509(other trust domain) over the wire = %v; want untrusted", err)
		}
	})
}

func TestFederatedTrustDomain(t *testing.T) {
	t.Parallel()
	other := spiretest.Start(t, spiretest.Options{TrustDomain: "other.test"})
	env := spiretest.Start(t, spiretest.Options{FederatedBundles: map[string][]byte{"other.test": other.BundleJWKS(t)}})
	p := startPlugin(t, env, "")
	peer := startPlugin(t, other, "")
	ctx := t.Context()

	key := mlsKey(t)
	tok, err := peer.FetchToken(ctx, sdk.TokenRequest{PublicKey: key})
	if err != nil {
		t.Fatal(err)
	}
	id, err := p.Verify(ctx, sdk.VerifyRequest{Token: tok.Value})
	if err != nil {
		t.Fatalf("Verify(token of the federated trust domain): %v", err)
	}
	if id.Subject != other.WorkloadID || id.Issuer != "spiffe://other.test" || string(id.PublicKey) != string(key) {
		t.Fatalf("identity = %+v; want %s with its bound key", id, other.WorkloadID)
	}
	snap := firstSnapshot(t, p)
	if names := []string{snap.KeySets[0].Name, snap.KeySets[1].Name}; len(snap.KeySets) != 2 || !slices.Equal(names, []string{"example.org", "other.test"}) {
		t.Fatalf("published key sets %v; want example.org and other.test", names)
	}

	peerSVID, err := peer.FetchX509SVID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := p.VerifyX509(ctx, peerSVID.Chain, time.Now()); err != nil || id.Subject != other.WorkloadID {
		t.Fatalf("VerifyX509(federated SVID) = %s, %v; want %s", id.Subject, err, other.WorkloadID)
	}

	// The other side does not federate back.
	own, err := p.FetchToken(ctx, sdk.TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Verify(ctx, sdk.VerifyRequest{Token: own.Value}); !errors.Is(err, sdk.ErrUntrusted) {
		t.Fatalf("Verify in a trust domain that does not federate = %v; want untrusted", err)
	}
}

// impostorChain is an SVID for id signed by a CA that no bundle holds.
func impostorChain(t *testing.T, id string) []*x509.Certificate {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	u, _ := url.Parse(id)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "impostor"},
		URIs:      []*url.URL{{Scheme: "spiffe", Host: u.Host}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), URIs: []*url.URL{u},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	return []*x509.Certificate{leaf, ca}
}
