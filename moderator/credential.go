package moderator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"time"

	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/store"
	"github.com/slimid/slimid/sdk"
)

// verified is a credential that passed the broker and is bound to its leaf.
type verified struct {
	id    sdk.Identity
	cred  mls.Credential
	key   []byte
	when  time.Time
	ctype mls.CredentialType
}

// verifyCredential checks a leaf's credential with the broker at time at
// (zero: the broker's now) and requires it to be bound to the leaf's
// signature key. Every plugin that verifies is asked, in the broker's
// order (re-verification asks the recorded provider directly). When the
// credential verifies but is not bound to the leaf, the error comes with
// the verified identity, for the audit trail.
func (m *Moderator) verifyCredential(ctx context.Context, cred mls.Credential, leafKey []byte, audiences []string, at time.Time) (*verified, error) {
	v := &verified{cred: cred, key: leafKey, when: at, ctype: cred.Type()}
	if v.when.IsZero() {
		v.when = m.now()
	}
	var err error
	switch cred.Type() {
	case mls.CredentialBasic:
		v.id, err = m.cfg.Verifier.Verify(ctx, "", sdk.VerifyRequest{Token: string(cred.Identity()), Audiences: audiences, At: at})
		if err != nil {
			return nil, verifyError("token", err)
		}
		if err := checkBinding(v.id, leafKey); err != nil {
			return v, err // the identity names who was refused
		}
	case mls.CredentialX509:
		xv, ok := m.cfg.Verifier.(X509Verifier)
		if !ok {
			return nil, refuse([]error{sdk.ErrUntrusted}, "x509 credentials are not accepted: the moderator's verifier cannot check certificate chains")
		}
		// The key binding (leaf certificate key = leaf signature key) was
		// checked by the MLS layer before this.
		v.id, err = xv.VerifyX509(ctx, "", cred.Certificates(), v.when)
		if err != nil {
			return nil, verifyError("certificate chain", err)
		}
	default:
		return nil, refuse([]error{sdk.ErrInvalid}, "credential type %s is not accepted; use a basic (token) or x509 credential", cred.Type())
	}
	return v, nil
}

// verifyError keeps a verdict a verdict and an outage an outage, and says
// what was being verified.
func verifyError(what string, err error) error {
	if errors.Is(err, sdk.ErrRejected) || errors.Is(err, sdk.ErrUnavailable) {
		return &wrapped{msg: what + " refused: " + err.Error(), err: err}
	}
	// Anything else (an unknown plugin, a broken configuration) cannot
	// decide: never an accept.
	return &wrapped{msg: what + " not verified: " + err.Error(), err: errors.Join(sdk.ErrUnavailable, err)}
}

type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// checkBinding requires the token's bound key to be the leaf's key.
func checkBinding(id sdk.Identity, leafKey []byte) error {
	if len(id.PublicKey) == 0 {
		return refuse([]error{ErrUnbound, sdk.ErrKeyMismatch},
			"token of %q binds no public key (no pubkey claim); fetch the token with the leaf's signature key bound to it", id.Subject)
	}
	if !bytes.Equal(id.PublicKey, leafKey) {
		return refuse([]error{sdk.ErrKeyMismatch},
			"token of %q binds key %s but the leaf carries key %s; a token is valid only beside the key it binds", id.Subject, Fingerprint(id.PublicKey), Fingerprint(leafKey))
	}
	return nil
}

// Fingerprint names a public key briefly: "sha256:" and the first 8 bytes
// of its SHA-256, in hex.
func Fingerprint(key []byte) string {
	sum := sha256.Sum256(key)
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// record is the roster entry for a verified credential at leaf.
func (v *verified) record(leaf mls.LeafIndex, epoch uint64) store.Member {
	r := store.Member{
		Leaf:           uint32(leaf),
		Subject:        v.id.Subject,
		Provider:       v.id.Provider,
		CredentialType: v.ctype.String(),
		Issuer:         v.id.Issuer,
		Audiences:      v.id.Audiences,
		IssuedAt:       v.id.IssuedAt,
		ExpiresAt:      v.id.ExpiresAt,
		VerifiedAt:     v.when,
		SignatureKey:   bytes.Clone(v.key),
		Claims:         v.id.Claims,
		SingleUse:      v.id.SingleUse,
		JoinedEpoch:    epoch,
	}
	if v.ctype == mls.CredentialX509 {
		r.Chain = v.cred.Chain()
	} else {
		r.Token = v.cred.Identity()
	}
	return r
}

// reverify checks a recorded credential again at the time it was verified,
// so that only trust (keys, bundles, plugins) is tested, not the clock.
func (m *Moderator) reverify(ctx context.Context, r *store.Member, audiences []string) error {
	var err error
	switch r.CredentialType {
	case mls.CredentialX509.String():
		xv, ok := m.cfg.Verifier.(X509Verifier)
		if !ok {
			return refuse([]error{sdk.ErrUntrusted}, "the verifier no longer checks certificate chains")
		}
		certs := make([]*x509.Certificate, len(r.Chain))
		for i, der := range r.Chain {
			if certs[i], err = x509.ParseCertificate(der); err != nil {
				return refuse([]error{sdk.ErrInvalid}, "recorded certificate %d does not parse: %v", i, err)
			}
		}
		_, err = xv.VerifyX509(ctx, r.Provider, certs, r.VerifiedAt)
	default:
		_, err = m.cfg.Verifier.Verify(ctx, r.Provider, sdk.VerifyRequest{Token: string(r.Token), Audiences: audiences, At: r.VerifiedAt})
		// A single-use token was consumed at admission; "replayed" means
		// its signature and dates still pass.
		if r.SingleUse && errors.Is(err, sdk.ErrReplayed) {
			err = nil
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sdk.ErrNotFound):
		// The plugin entry that vouched for it is gone: a trust change.
		return refuse([]error{sdk.ErrUntrusted}, "plugin %q that verified the credential is no longer configured", r.Provider)
	}
	return verifyError("credential", err)
}
