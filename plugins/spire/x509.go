package spire

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/slimid/slimid/sdk"
)

// FetchX509SVID returns the workload's X.509-SVID, its key and the X.509
// bundles per trust domain, from the agent's stream (or a direct fetch
// before the stream's first message). An expired SVID is never handed out.
func (p *Plugin) FetchX509SVID(ctx context.Context) (sdk.X509SVID, error) {
	a, err := p.agent()
	if err != nil {
		return sdk.X509SVID{}, err
	}
	if err := a.refused(); err != nil {
		return sdk.X509SVID{}, sdk.Unavailable("spire: the SPIRE agent at %s issues no identity to this workload: %v", a.cfg.addr, err)
	}
	c, _ := a.x509Context()
	if c == nil {
		callCtx, cancel := context.WithTimeout(ctx, fetchTimeout)
		defer cancel()
		if c, err = a.client.FetchX509Context(callCtx); err != nil {
			return sdk.X509SVID{}, sdk.Unavailable("spire: fetch the X.509-SVID from the SPIRE agent at %s: %v", a.cfg.addr, err)
		}
	}
	svid, err := a.pickSVID(c)
	if err != nil {
		return sdk.X509SVID{}, sdk.Unavailable("spire: %v", err)
	}
	if leaf := svid.Certificates[0]; !time.Now().Before(leaf.NotAfter) {
		return sdk.X509SVID{}, sdk.Unavailable("spire: the X.509-SVID %s expired at %s and the SPIRE agent at %s sent no new one: %s",
			svid.ID, leaf.NotAfter.UTC().Format(time.RFC3339), a.cfg.addr, a.status().Message)
	}
	out := sdk.X509SVID{Chain: svid.Certificates, PrivateKey: svid.PrivateKey, Bundles: map[string][]*x509.Certificate{}}
	for _, b := range c.Bundles.Bundles() {
		out.Bundles[b.TrustDomain().Name()] = b.X509Authorities()
	}
	return out, nil
}

// VerifyX509 checks chain against the X.509 bundle of its leaf's trust
// domain, at time at. The identity's subject is the SPIFFE ID in the URI
// SAN and its public key the leaf's key in MLS form.
func (p *Plugin) VerifyX509(ctx context.Context, chain []*x509.Certificate, at time.Time) (sdk.Identity, error) {
	a, err := p.agent()
	if err != nil {
		return sdk.Identity{}, err
	}
	c, _ := a.x509Context()
	if c == nil {
		return sdk.Identity{}, sdk.Unavailable("spire: no X.509 bundles from the SPIRE agent yet: %s", a.status().Message)
	}
	return verifyChain(chain, c.Bundles, at)
}

// verifyChain is VerifyX509 against a given bundle set.
func verifyChain(chain []*x509.Certificate, bundles *x509bundle.Set, at time.Time) (sdk.Identity, error) {
	if len(chain) == 0 {
		return sdk.Identity{}, sdk.Reject(sdk.ErrInvalid, "spire: empty certificate chain")
	}
	leaf := chain[0]
	id, err := x509svid.IDFromCert(leaf)
	if err != nil {
		return sdk.Identity{}, sdk.Reject(sdk.ErrInvalid, "spire: the leaf certificate is not an X.509-SVID: %v", err)
	}
	if !bundles.Has(id.TrustDomain()) {
		return sdk.Identity{}, sdk.Reject(sdk.ErrUntrusted, "spire: %s belongs to trust domain %s, which the SPIRE agent does not trust", id, id.TrustDomain())
	}
	if _, _, err := x509svid.Verify(chain, bundles, x509svid.WithTime(at)); err != nil {
		return sdk.Identity{}, chainVerdict(id.String(), leaf, at, err)
	}
	key, err := mlsPublicKey(leaf)
	if err != nil {
		return sdk.Identity{}, sdk.Reject(sdk.ErrPolicy, "spire: %s: %v", id, err)
	}
	return sdk.Identity{
		Subject:   id.String(),
		Issuer:    id.TrustDomain().IDString(),
		IssuedAt:  leaf.NotBefore,
		ExpiresAt: leaf.NotAfter,
		PublicKey: key,
		Claims:    map[string]any{"sub": id.String()},
	}, nil
}

// chainVerdict names why a chain failed.
func chainVerdict(id string, leaf *x509.Certificate, at time.Time, err error) error {
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired && at.Before(leaf.NotBefore):
		return sdk.Reject(sdk.ErrNotYetValid, "spire: X.509-SVID %s is not valid before %s", id, leaf.NotBefore.UTC().Format(time.RFC3339))
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return sdk.Reject(sdk.ErrExpired, "spire: X.509-SVID %s: %v", id, invalid)
	case errors.As(err, &unknown):
		return sdk.Reject(sdk.ErrUntrusted, "spire: X.509-SVID %s does not chain to its trust domain's bundle: %v", id, unknown)
	default:
		return sdk.Reject(sdk.ErrInvalid, "spire: X.509-SVID %s: %v", id, err)
	}
}

// mlsPublicKey is the leaf's key as MLS carries a signature key: the
// uncompressed point for ECDSA (65 bytes for P-256), the raw 32 bytes for
// Ed25519.
func mlsPublicKey(leaf *x509.Certificate) ([]byte, error) {
	switch k := leaf.PublicKey.(type) {
	case *ecdsa.PublicKey:
		e, err := k.ECDH()
		if err != nil {
			return nil, fmt.Errorf("leaf key on curve %s has no MLS signature scheme", k.Curve.Params().Name)
		}
		return e.Bytes(), nil
	case ed25519.PublicKey:
		return []byte(k), nil
	default:
		return nil, fmt.Errorf("leaf key type %T has no MLS signature scheme: issue EC P-256 or Ed25519 SVIDs", leaf.PublicKey)
	}
}
