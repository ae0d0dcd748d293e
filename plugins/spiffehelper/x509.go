package spiffehelper

import (
	"context"
	"crypto/x509"
	"slices"
	"time"

	"github.com/slimid/slimid/sdk"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// FetchX509SVID returns the X.509-SVID from tls.crt and tls.key with the
// bundle from svid_bundle.pem, keyed by the SVID's trust domain.
func (p *Plugin) FetchX509SVID(context.Context) (sdk.X509SVID, error) {
	v, err := p.current()
	if err != nil {
		return sdk.X509SVID{}, err
	}
	x := v.x509
	if x == nil {
		return sdk.X509SVID{}, sdk.Unavailable("no valid X.509-SVID yet in %s, %s and %s", v.cfg.certPath, v.cfg.keyPath, v.cfg.caPath)
	}
	if leaf := x.svid.Certificates[0]; !time.Now().Before(leaf.NotAfter) {
		return sdk.X509SVID{}, sdk.Unavailable("the X.509-SVID in %s expired at %s and spiffe-helper has not written a new one", v.cfg.certPath, stamp(leaf.NotAfter))
	}
	return sdk.X509SVID{
		Chain:      slices.Clone(x.svid.Certificates),
		PrivateKey: x.svid.PrivateKey,
		Bundles:    map[string][]*x509.Certificate{x.bundle.TrustDomain().Name(): x.bundle.X509Authorities()},
	}, nil
}

// VerifyX509 checks a peer's chain (leaf first) against svid_bundle.pem at
// the given time. Only the SVID's own trust domain is trusted: that is the
// bundle spiffe-helper writes there. The identity's subject is the SPIFFE
// ID of the leaf's URI SAN and its public key the leaf key in MLS form.
func (p *Plugin) VerifyX509(_ context.Context, chain []*x509.Certificate, at time.Time) (sdk.Identity, error) {
	v, err := p.current()
	if err != nil {
		return sdk.Identity{}, err
	}
	x := v.x509
	if x == nil {
		return sdk.Identity{}, sdk.Unavailable("no X.509 bundle yet: waiting for spiffe-helper to write %s", v.cfg.caPath)
	}
	if len(chain) == 0 {
		return sdk.Identity{}, sdk.Reject(sdk.ErrInvalid, "empty certificate chain")
	}
	if at.IsZero() {
		at = time.Now()
	}
	leaf := chain[0]
	id, err := x509svid.IDFromCert(leaf)
	if err != nil {
		return sdk.Identity{}, sdk.Reject(sdk.ErrInvalid, "leaf certificate is not an X.509-SVID: %v", err)
	}
	td := x.bundle.TrustDomain()
	switch {
	case leaf.IsCA:
		return sdk.Identity{}, sdk.Reject(sdk.ErrInvalid, "leaf certificate of %s is a CA certificate, not an X.509-SVID", id)
	case id.Path() == "":
		return sdk.Identity{}, sdk.Reject(sdk.ErrInvalid, "leaf certificate's SPIFFE ID %s names a trust domain, not a workload", id)
	case id.TrustDomain() != td:
		return sdk.Identity{}, sdk.Reject(sdk.ErrUntrusted, "%s is not in trust domain %q, the one %s holds", id, td.Name(), v.cfg.caPath)
	case at.Before(leaf.NotBefore):
		return sdk.Identity{}, sdk.Reject(sdk.ErrNotYetValid, "certificate of %s is valid from %s", id, stamp(leaf.NotBefore))
	case at.After(leaf.NotAfter):
		return sdk.Identity{}, sdk.Reject(sdk.ErrExpired, "certificate of %s expired at %s", id, stamp(leaf.NotAfter))
	}
	if _, _, err := x509svid.Verify(chain, x.bundle, x509svid.WithTime(at)); err != nil {
		return sdk.Identity{}, sdk.Reject(sdk.ErrUntrusted, "certificate of %s does not chain to %s: %v", id, v.cfg.caPath, err)
	}
	return sdk.Identity{
		Subject:   id.String(),
		Issuer:    td.IDString(),
		IssuedAt:  leaf.NotBefore,
		ExpiresAt: leaf.NotAfter,
		PublicKey: mlsPublicKey(leaf.PublicKey),
		Claims:    map[string]any{"sub": id.String()},
	}, nil
}
