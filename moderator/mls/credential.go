package mls

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"slices"

	"github.com/thomas-vilte/mls-go/credentials"
)

// CredentialType is an MLS credential type (RFC 9420 §5.3).
type CredentialType uint16

const (
	// CredentialBasic carries opaque identity bytes; SLIM puts the whole
	// identity token there.
	CredentialBasic CredentialType = 0x0001
	// CredentialX509 carries a DER certificate chain whose leaf key is the
	// member's signature key.
	CredentialX509 CredentialType = 0x0002
)

// String returns "basic", "x509" or the type number.
func (t CredentialType) String() string {
	switch t {
	case CredentialBasic:
		return "basic"
	case CredentialX509:
		return "x509"
	}
	return fmt.Sprintf("0x%04x", uint16(t))
}

// maxBasicIdentity is the largest identity a BasicCredential can carry here;
// identity tokens are far smaller, and a bound keeps hostile inputs cheap.
const maxBasicIdentity = 64 << 10

// Credential is a member credential: a BasicCredential with opaque identity
// bytes or an X509Credential with a DER chain, leaf first. It is immutable.
type Credential struct {
	typ      CredentialType
	identity []byte
	chain    [][]byte
	certs    []*x509.Certificate
}

// NewBasicCredential returns a BasicCredential carrying identity, which must
// not be empty.
func NewBasicCredential(identity []byte) (Credential, error) {
	if len(identity) == 0 {
		return Credential{}, fmt.Errorf("mls: basic credential: identity is empty")
	}
	if len(identity) > maxBasicIdentity {
		return Credential{}, fmt.Errorf("mls: basic credential: identity has %d bytes, at most %d allowed", len(identity), maxBasicIdentity)
	}
	return Credential{typ: CredentialBasic, identity: bytes.Clone(identity)}, nil
}

// NewX509Credential returns an X509Credential for a DER chain, leaf first.
// Every certificate must parse. Whether the leaf key matches the signature key
// is checked where the credential is used.
func NewX509Credential(chain [][]byte) (Credential, error) {
	if len(chain) == 0 {
		return Credential{}, fmt.Errorf("mls: x509 credential: the chain is empty")
	}
	c := Credential{typ: CredentialX509, chain: make([][]byte, len(chain)), certs: make([]*x509.Certificate, len(chain))}
	for i, der := range chain {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return Credential{}, fmt.Errorf("mls: x509 credential: certificate %d: %v", i, err)
		}
		c.chain[i] = bytes.Clone(der)
		c.certs[i] = cert
	}
	return c, nil
}

// Type returns the credential type.
func (c Credential) Type() CredentialType { return c.typ }

// IsZero reports whether c is the zero Credential.
func (c Credential) IsZero() bool { return c.typ == 0 }

// Identity returns the identity bytes of a BasicCredential, nil otherwise.
func (c Credential) Identity() []byte { return bytes.Clone(c.identity) }

// Chain returns the DER chain of an X509Credential, leaf first, nil otherwise.
func (c Credential) Chain() [][]byte {
	out := make([][]byte, len(c.chain))
	for i, der := range c.chain {
		out[i] = bytes.Clone(der)
	}
	return out
}

// Certificates returns the parsed chain of an X509Credential, leaf first, nil
// for a BasicCredential. The certificates are shared; do not modify them.
func (c Credential) Certificates() []*x509.Certificate { return slices.Clone(c.certs) }

// Equal reports whether two credentials have the same type and content.
func (c Credential) Equal(o Credential) bool {
	return c.typ == o.typ && bytes.Equal(c.identity, o.identity) &&
		slices.EqualFunc(c.chain, o.chain, bytes.Equal)
}

func (c Credential) mls() *credentials.Credential {
	if c.typ == CredentialX509 {
		return credentials.NewX509Credential(c.Chain())
	}
	return credentials.NewBasicCredential(c.Identity())
}

// credentialFromMLS converts a parsed credential, refusing types other than
// basic and x509 and chains that do not parse.
func credentialFromMLS(mc *credentials.Credential) (Credential, error) {
	if mc == nil {
		return Credential{}, fmt.Errorf("no credential")
	}
	switch CredentialType(mc.CredentialType) {
	case CredentialBasic:
		if len(mc.Identity) == 0 {
			return Credential{}, fmt.Errorf("basic credential has an empty identity")
		}
		if len(mc.Identity) > maxBasicIdentity {
			return Credential{}, fmt.Errorf("basic credential identity has %d bytes, at most %d allowed", len(mc.Identity), maxBasicIdentity)
		}
		return Credential{typ: CredentialBasic, identity: bytes.Clone(mc.Identity)}, nil
	case CredentialX509:
		if len(mc.Certificates) == 0 {
			return Credential{}, fmt.Errorf("x509 credential has no certificate")
		}
		c := Credential{typ: CredentialX509, chain: make([][]byte, len(mc.Certificates)), certs: make([]*x509.Certificate, len(mc.Certificates))}
		for i, der := range mc.Certificates {
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return Credential{}, fmt.Errorf("x509 credential certificate %d does not parse: %v", i, err)
			}
			c.chain[i] = bytes.Clone(der)
			c.certs[i] = cert
		}
		return c, nil
	}
	return Credential{}, fmt.Errorf("credential type %s is not supported", CredentialType(mc.CredentialType))
}

// leafKeyMatches reports whether an X509Credential's leaf certificate holds
// the given raw signature key. A BasicCredential always matches.
func (c Credential) leafKeyMatches(signatureKey []byte) bool {
	if c.typ != CredentialX509 {
		return true
	}
	raw, ok := rawPublicKey(c.certs[0].PublicKey)
	return ok && bytes.Equal(raw, signatureKey)
}
