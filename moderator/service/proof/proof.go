package proof

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/slimid/slimid/moderator/mls"
)

// Purposes of a statement.
const (
	// PurposeMembership: the signer holds the key of a leaf in the channel.
	PurposeMembership = "membership"
	// PurposeJoin: the key package sent in a JoinReply is the signer's.
	PurposeJoin = "join"
)

// label starts every statement, so no other signature the key makes (MLS
// uses "MLS 1.0 " labels) can be taken for a proof.
const label = "slimid moderator proof v1"

// NonceSize is the length of a Challenge nonce.
const NonceSize = 32

// ErrInvalid is returned when a proof does not verify.
var ErrInvalid = errors.New("proof of possession does not verify")

// Statement is what a proof signs.
type Statement struct {
	Purpose     string
	Nonce       []byte
	Participant string
	Channel     string
	// Subject is the leaf index (4 bytes, big-endian) or the key package
	// reference (32 bytes).
	Subject []byte
}

// Membership is the statement that the signer holds leaf's key in channel.
func Membership(nonce []byte, participant, channel string, leaf uint32) Statement {
	return Statement{Purpose: PurposeMembership, Nonce: nonce, Participant: participant, Channel: channel,
		Subject: binary.BigEndian.AppendUint32(nil, leaf)}
}

// KeyPackage is the statement that the key package with reference ref,
// offered to join channel, is the signer's.
func KeyPackage(nonce []byte, participant, channel string, ref mls.KeyPackageRef) Statement {
	return Statement{Purpose: PurposeJoin, Nonce: nonce, Participant: participant, Channel: channel, Subject: ref[:]}
}

// Bytes encodes the statement: each field preceded by its length as two
// big-endian bytes. Fields longer than 65535 bytes cannot be encoded.
func (s Statement) Bytes() ([]byte, error) {
	fields := [][]byte{[]byte(label), []byte(s.Purpose), s.Nonce, []byte(s.Participant), []byte(s.Channel), s.Subject}
	var out []byte
	for _, f := range fields {
		if len(f) > 0xffff {
			return nil, fmt.Errorf("proof: a statement field has %d bytes, more than 65535", len(f))
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(f)))
		out = append(out, f...)
	}
	return out, nil
}

// Sign signs the statement with the member's MLS signature key: Ed25519 for
// suites 0x0001 and 0x0003, ECDSA P-256 over SHA-256 for 0x0002.
func Sign(signer *mls.Signer, st Statement) ([]byte, error) {
	msg, err := st.Bytes()
	if err != nil {
		return nil, err
	}
	key, suite := signer.PrivateKey(), signer.Suite()
	switch suite {
	case mls.SuiteX25519AES128GCM, mls.SuiteX25519ChaCha20Poly1305:
		k, ok := key.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("proof: suite %s signs with Ed25519, the key is %T", suite, key)
		}
		return ed25519.Sign(k, msg), nil
	case mls.SuiteP256AES128GCM:
		k, ok := key.(*ecdsa.PrivateKey)
		if !ok || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("proof: suite %s signs with ECDSA P-256, the key is %T", suite, key)
		}
		digest := sha256.Sum256(msg)
		sig, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
		if err != nil {
			return nil, fmt.Errorf("proof: signing: %v", err)
		}
		return sig, nil
	}
	return nil, fmt.Errorf("proof: unknown suite 0x%04x", uint16(suite))
}

// Verify checks sig over the statement with publicKey, the raw leaf
// signature key (32 bytes for Ed25519, the 65-byte uncompressed point for
// P-256). Any failure is ErrInvalid with the reason.
func Verify(suite mls.Suite, publicKey []byte, st Statement, sig []byte) error {
	msg, err := st.Bytes()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	switch suite {
	case mls.SuiteX25519AES128GCM, mls.SuiteX25519ChaCha20Poly1305:
		if len(publicKey) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: the Ed25519 key has %d bytes, want %d", ErrInvalid, len(publicKey), ed25519.PublicKeySize)
		}
		if !ed25519.Verify(publicKey, msg, sig) {
			return fmt.Errorf("%w: bad Ed25519 signature", ErrInvalid)
		}
		return nil
	case mls.SuiteP256AES128GCM:
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), publicKey)
		if err != nil {
			return fmt.Errorf("%w: P-256 key: %v", ErrInvalid, err)
		}
		digest := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			return fmt.Errorf("%w: bad ECDSA P-256 signature", ErrInvalid)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown suite 0x%04x", ErrInvalid, uint16(suite))
}
