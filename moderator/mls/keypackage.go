package mls

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/thomas-vilte/mls-go/ciphersuite"
	"github.com/thomas-vilte/mls-go/framing"
	"github.com/thomas-vilte/mls-go/keypackages"
)

// KeyPackageRef is the RFC 9420 §5.2 reference of a key package, the hash
// Welcome messages use to address it. All accepted suites hash with SHA-256.
type KeyPackageRef [32]byte

// String returns the reference in hex.
func (r KeyPackageRef) String() string { return hex.EncodeToString(r[:]) }

// Lifetime is the validity window of a key package's leaf node.
type Lifetime struct {
	NotBefore time.Time
	NotAfter  time.Time
}

// maxLifetimeUnix is 9999-12-31T23:59:59Z; larger wire values (a common
// "forever" is 2^64-1) are shown as this time.
const maxLifetimeUnix = 253402300799

func unixTime(v uint64) time.Time {
	if v > maxLifetimeUnix {
		v = maxLifetimeUnix
	}
	return time.Unix(int64(v), 0).UTC()
}

// KeyPackage is a decoded, structurally sound key package. Decoding does not
// verify signatures or fitness for a group: call Validate or
// Group.ValidateKeyPackage before inviting its owner.
type KeyPackage struct {
	kp    *keypackages.KeyPackage
	bare  []byte
	suite Suite
	cred  Credential
	ref   KeyPackageRef
}

// mlsMessageKeyPackageHeader starts an MLSMessage carrying a key package:
// version mls10 (1), wire format mls_key_package (5).
var mlsMessageKeyPackageHeader = []byte{0, 1, 0, 5}

// DecodeKeyPackage decodes a key package sent either as an RFC 9420
// MLSMessage (wire format mls_key_package) or as bare KeyPackage bytes.
func DecodeKeyPackage(data []byte) (kp *KeyPackage, err error) {
	defer func() {
		if r := recover(); r != nil {
			kp, err = nil, faultError(ErrKeyPackage, r)
		}
	}()
	if bytes.HasPrefix(data, mlsMessageKeyPackageHeader) {
		kp, err = decodeBareKeyPackage(data[len(mlsMessageKeyPackageHeader):])
		if err == nil {
			return kp, nil
		}
		// Bare bytes of a suite 0x0005 key package share the header; let them
		// fail with the clearer ciphersuite error.
		if _, bareErr := keypackages.UnmarshalKeyPackage(data); bareErr == nil {
			return decodeBareKeyPackage(data)
		}
		return nil, err
	}
	return decodeBareKeyPackage(data)
}

func decodeBareKeyPackage(bare []byte) (*KeyPackage, error) {
	if len(bare) == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrKeyPackage)
	}
	if len(bare) >= 4 {
		if v := binary.BigEndian.Uint16(bare); v != uint16(keypackages.MLS10) {
			return nil, fmt.Errorf("%w: protocol version %d is not MLS 1.0", ErrKeyPackage, v)
		}
		if s := Suite(binary.BigEndian.Uint16(bare[2:])); s.Validate() != nil {
			return nil, fmt.Errorf("%w: ciphersuite 0x%04x is not supported (use 0x0001, 0x0002 or 0x0003)", ErrKeyPackage, uint16(s))
		}
	}
	mkp, err := keypackages.UnmarshalKeyPackage(bare)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed: %v", ErrKeyPackage, err)
	}
	if mkp.LeafNode == nil {
		return nil, fmt.Errorf("%w: malformed: no leaf node", ErrKeyPackage)
	}
	cred, err := credentialFromMLS(mkp.LeafNode.Credential)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyPackage, err)
	}
	// Re-encoding must give back the input: this refuses trailing bytes and
	// non-canonical encodings, so the reference and the signatures are
	// computed over the bytes that were received.
	if !bytes.Equal(mkp.Marshal(), bare) {
		return nil, fmt.Errorf("%w: malformed: trailing bytes or a non-canonical encoding", ErrKeyPackage)
	}
	return newKeyPackage(mkp, bare, cred), nil
}

func newKeyPackage(mkp *keypackages.KeyPackage, bare []byte, cred Credential) *KeyPackage {
	suite := Suite(mkp.CipherSuite)
	var ref KeyPackageRef
	copy(ref[:], ciphersuite.MakeKeyPackageRef(bare, suite.mls().HashFunction()).AsSlice())
	mkp.Raw = bare
	return &KeyPackage{kp: mkp, bare: bare, suite: suite, cred: cred, ref: ref}
}

// Suite returns the key package's ciphersuite.
func (k *KeyPackage) Suite() Suite { return k.suite }

// Credential returns the leaf node's credential.
func (k *KeyPackage) Credential() Credential { return k.cred }

// CredentialType returns the type of the leaf node's credential.
func (k *KeyPackage) CredentialType() CredentialType { return k.cred.typ }

// Identity returns the identity bytes of a BasicCredential (for SLIM, the
// whole identity token), nil for an X509Credential.
func (k *KeyPackage) Identity() []byte { return k.cred.Identity() }

// Certificates returns the parsed chain of an X509Credential, leaf first,
// nil for a BasicCredential.
func (k *KeyPackage) Certificates() []*x509.Certificate { return k.cred.Certificates() }

// SignatureKey returns the leaf's raw signature public key: 32 bytes for
// Ed25519, the 65-byte uncompressed point for P-256.
func (k *KeyPackage) SignatureKey() []byte {
	return bytes.Clone(k.kp.LeafNode.SignatureKeyBytes)
}

// Lifetime returns the leaf node's validity window.
func (k *KeyPackage) Lifetime() Lifetime {
	lt := k.kp.LeafNode.Lifetime
	if lt == nil {
		return Lifetime{NotBefore: unixTime(0), NotAfter: unixTime(math.MaxUint64)}
	}
	return Lifetime{NotBefore: unixTime(lt.NotBefore), NotAfter: unixTime(lt.NotAfter)}
}

// Ref returns the key package reference.
func (k *KeyPackage) Ref() KeyPackageRef { return k.ref }

// Bytes returns the key package framed as an RFC 9420 MLSMessage.
func (k *KeyPackage) Bytes() []byte {
	return (&framing.MLSMessage{KeyPackage: bytes.Clone(k.bare)}).Marshal()
}

// BareBytes returns the KeyPackage structure without MLSMessage framing.
func (k *KeyPackage) BareBytes() []byte { return bytes.Clone(k.bare) }
