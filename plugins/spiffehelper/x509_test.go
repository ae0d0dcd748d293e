package spiffehelper_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/slimid/slimid/sdk"
)

func TestFetchX509SVID(t *testing.T) {
	dir := t.TempDir()
	a := newAuthority(t, "example.org")
	svid := a.svid(t, "/workload")
	writeFile(t, dir, "tls.crt", svid.cert)
	writeFile(t, dir, "tls.key", svid.key)
	writeFile(t, dir, "svid_bundle.pem", svid.bundle)
	p, _, _ := configured(t, dir, "")

	got, err := p.FetchX509SVID(t.Context())
	if err != nil {
		t.Fatalf("FetchX509SVID: %v", err)
	}
	if len(got.Chain) != 1 || !got.Chain[0].Equal(svid.leaf) {
		t.Fatal("FetchX509SVID chain is not tls.crt")
	}
	if !svid.priv.PublicKey.Equal(got.PrivateKey.Public()) {
		t.Fatal("FetchX509SVID key is not tls.key")
	}
	if cas := got.Bundles["example.org"]; len(got.Bundles) != 1 || len(cas) != 1 || !cas[0].Equal(a.ca) {
		t.Fatalf("bundles %v; want example.org's CA", got.Bundles)
	}
}

func TestVerifyX509(t *testing.T) {
	dir := t.TempDir()
	a := newAuthority(t, "example.org")
	own := a.svid(t, "/workload")
	writeFile(t, dir, "tls.crt", own.cert)
	writeFile(t, dir, "tls.key", own.key)
	writeFile(t, dir, "svid_bundle.pem", own.bundle)
	p, _, _ := configured(t, dir, "")

	now := time.Now()
	peer := a.issue(t, "/peer", now.Add(-time.Minute), now.Add(time.Hour))
	impostor := newAuthority(t, "example.org").svid(t, "/peer")
	foreign := newAuthority(t, "other.org").svid(t, "/peer")

	tests := []struct {
		name    string
		chain   []*x509.Certificate
		at      time.Time
		reason  error
		wantErr string
	}{
		{name: "peer of the trust domain", chain: []*x509.Certificate{peer.leaf}},
		{name: "empty chain", reason: sdk.ErrInvalid, wantErr: "empty certificate chain"},
		{name: "another CA of the same name", chain: []*x509.Certificate{impostor.leaf}, reason: sdk.ErrUntrusted,
			wantErr: "certificate of spiffe://example.org/peer does not chain to DIR/svid_bundle.pem: x509svid: could not verify leaf certificate: x509: certificate signed by unknown authority (possibly because of \"x509: ECDSA verification failure\" while trying to verify candidate authority certificate \"SPIFFE\")"},
		{name: "another trust domain", chain: []*x509.Certificate{foreign.leaf}, reason: sdk.ErrUntrusted,
			wantErr: `spiffe://other.org/peer is not in trust domain "example.org", the one DIR/svid_bundle.pem holds`},
		{name: "after expiry", chain: []*x509.Certificate{peer.leaf}, at: now.Add(2 * time.Hour), reason: sdk.ErrExpired,
			wantErr: fmt.Sprintf("certificate of spiffe://example.org/peer expired at %s", peer.leaf.NotAfter.UTC().Format(time.RFC3339))},
		{name: "before validity", chain: []*x509.Certificate{peer.leaf}, at: now.Add(-time.Hour), reason: sdk.ErrNotYetValid,
			wantErr: fmt.Sprintf("certificate of spiffe://example.org/peer is valid from %s", peer.leaf.NotBefore.UTC().Format(time.RFC3339))},
		{name: "a CA as leaf", chain: []*x509.Certificate{a.ca}, reason: sdk.ErrInvalid,
			wantErr: "leaf certificate of spiffe://example.org is a CA certificate, not an X.509-SVID"},
		{name: "a leaf for the trust domain itself", chain: []*x509.Certificate{a.issue(t, "", now.Add(-time.Minute), now.Add(time.Hour)).leaf}, reason: sdk.ErrInvalid,
			wantErr: "leaf certificate's SPIFFE ID spiffe://example.org names a trust domain, not a workload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := p.VerifyX509(t.Context(), tt.chain, tt.at)
			if tt.reason == nil {
				if err != nil {
					t.Fatalf("VerifyX509: %v", err)
				}
				ecKey, _ := peer.priv.PublicKey.ECDH()
				want := ecKey.Bytes()
				if id.Subject != "spiffe://example.org/peer" || id.Issuer != "spiffe://example.org" || !bytes.Equal(id.PublicKey, want) || len(id.PublicKey) != 65 {
					t.Fatalf("VerifyX509 = %+v; want the peer's SPIFFE ID and its 65-byte point", id)
				}
				if _, err := ecdh.P256().NewPublicKey(id.PublicKey); err != nil {
					t.Fatalf("PublicKey is not an uncompressed P-256 point: %v", err)
				}
				return
			}
			want := bytes.ReplaceAll([]byte(tt.wantErr), []byte("DIR"), []byte(dir))
			if err == nil || err.Error() != string(want) || !errors.Is(err, tt.reason) {
				t.Fatalf("VerifyX509 error = %v\nwant %s (%v)", err, want, tt.reason)
			}
		})
	}
}

// TestX509FilesTakenOnlyTogether: a new certificate with the old key, or a
// bundle cut in the middle of a block, is refused and the last good set
// stays in force until the files agree.
func TestX509FilesTakenOnlyTogether(t *testing.T) {
	dir := t.TempDir()
	a := newAuthority(t, "example.org")
	first := a.svid(t, "/workload")
	writeFile(t, dir, "tls.crt", first.cert)
	writeFile(t, dir, "tls.key", first.key)
	writeFile(t, dir, "svid_bundle.pem", first.bundle)
	p, tap, _ := configured(t, dir, "")
	second := a.svid(t, "/workload")
	b := newAuthority(t, "example.org")
	twoCAs := append(append([]byte(nil), first.bundle...), b.svid(t, "/x").bundle...)

	steps := []struct {
		name  string
		file  string
		data  []byte
		cause string
	}{
		{"new certificate, old key", "tls.crt", second.cert,
			fmt.Sprintf("%s with %s: x509svid: private key validation failed: leaf certificate does not match private key", filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))},
		{"bundle cut inside its second block", "svid_bundle.pem", twoCAs[:len(twoCAs)-40],
			filepath.Join(dir, "svid_bundle.pem") + " ends in an incomplete PEM block (spiffe-helper may be writing it)"},
		{"empty key", "tls.key", nil, filepath.Join(dir, "tls.key") + " holds no PEM block (spiffe-helper may be writing it)"},
	}
	for _, st := range steps {
		from := tap.mark()
		writeFile(t, dir, st.file, st.data)
		tap.wait(t, from, "file not taken yet", st.cause)
		got, err := p.FetchX509SVID(t.Context())
		if err != nil || !got.Chain[0].Equal(first.leaf) {
			t.Fatalf("%s: FetchX509SVID = %v; want the first SVID still", st.name, err)
		}
	}
	from := tap.mark()
	writeFile(t, dir, "svid_bundle.pem", twoCAs)
	writeFile(t, dir, "tls.key", second.key)
	tap.wait(t, from, "X.509-SVID loaded")
	got, err := p.FetchX509SVID(t.Context())
	if err != nil || !got.Chain[0].Equal(second.leaf) || len(got.Bundles["example.org"]) != 2 {
		t.Fatalf("FetchX509SVID = %v; want the second SVID with both CAs", err)
	}
}
