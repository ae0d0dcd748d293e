package mls

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/thomas-vilte/mls-go/keypackages"
	"github.com/thomas-vilte/mls-go/treesync"
)

// Requirements is what a group asks of a key package before its owner is
// invited. Group.ValidateKeyPackage derives them from the group.
type Requirements struct {
	// Suite is the group's ciphersuite.
	Suite Suite
	// Now is the time the lifetime (and an X.509 leaf's validity) is checked
	// against.
	Now time.Time
	// MaxLifetime bounds not_after - not_before (RFC 9420 §7.2 asks
	// applications to set one). Zero means no bound.
	MaxLifetime time.Duration
	// CredentialTypes are the credential types members of the group use; the
	// key package's capabilities must list each of them.
	CredentialTypes []CredentialType
	// AcceptedCredentialTypes are the credential types every member's
	// capabilities list; the key package's credential must be one of them.
	// Nil means no constraint.
	AcceptedCredentialTypes []CredentialType
	// Extensions are the non-default extension types the group uses; the key
	// package's capabilities must list each of them.
	Extensions []uint16
}

// Validate checks a key package before its owner is invited: the suite, the
// signatures of the key package and of its leaf node, the credential and its
// binding to the signature key, distinct init and encryption keys, the
// capabilities, and the lifetime. It returns the first problem found as an
// error wrapping ErrKeyPackage.
func (k *KeyPackage) Validate(req Requirements) error {
	if err := req.Suite.Validate(); err != nil {
		return err
	}
	if k.suite != req.Suite {
		return k.refuse("ciphersuite 0x%04x does not match the group's 0x%04x", uint16(k.suite), uint16(req.Suite))
	}
	leaf := k.kp.LeafNode
	if n, want := len(leaf.SignatureKeyBytes), k.suite.signatureKeySize(); n != want {
		return k.refuse("signature key has %d bytes, want %d for suite 0x%04x", n, want, uint16(k.suite))
	}
	if k.suite == SuiteP256AES128GCM && leaf.SignatureKey == nil {
		return k.refuse("signature key is not an uncompressed P-256 point")
	}
	if leaf.LeafNodeSource != leafSourceKeyPackage {
		return k.refuse("leaf node source is %d, want key_package (1)", leaf.LeafNodeSource)
	}
	if err := k.kp.Verify(k.suite.mls()); err != nil {
		return k.refuse("signature does not verify")
	}
	tree := k.treeLeaf()
	if err := tree.Verify(k.suite.mls()); err != nil {
		return k.refuse("leaf node signature does not verify")
	}
	if !k.cred.leafKeyMatches(leaf.SignatureKeyBytes) {
		return k.refuse("the x509 leaf certificate does not hold the signature key")
	}
	if err := k.checkHPKEKeys(); err != nil {
		return err
	}
	if bytes.Equal(k.kp.InitKey, leaf.EncryptionKey) {
		return k.refuse("init key equals the leaf encryption key")
	}
	if err := k.checkCapabilities(req); err != nil {
		return err
	}
	return k.checkLifetime(req)
}

// checkHPKEKeys refuses init and encryption keys that are not public keys of
// the suite's KEM: the Welcome or the UpdatePath would fail to encrypt to
// them only after the commit was made.
func (k *KeyPackage) checkHPKEKeys() error {
	curve := k.suite.mls().Curve()
	if _, err := curve.NewPublicKey(k.kp.InitKey); err != nil {
		return k.refuse("init key is not a valid public key for suite 0x%04x", uint16(k.suite))
	}
	if _, err := curve.NewPublicKey(k.kp.LeafNode.EncryptionKey); err != nil {
		return k.refuse("encryption key is not a valid public key for suite 0x%04x", uint16(k.suite))
	}
	return nil
}

func (k *KeyPackage) checkCapabilities(req Requirements) error {
	caps := k.kp.LeafNode.Capabilities
	if caps == nil {
		return k.refuse("no capabilities")
	}
	if !slices.Contains(caps.ProtocolVersions, keypackages.MLS10) {
		return k.refuse("capabilities do not list protocol version MLS 1.0")
	}
	if !slices.Contains(caps.CipherSuites, k.suite.mls()) {
		return k.refuse("capabilities do not list ciphersuite 0x%04x", uint16(k.suite))
	}
	if !slices.Contains(caps.Credentials, uint16(k.cred.typ)) {
		return k.refuse("capabilities do not list its own credential type %s", k.cred.typ)
	}
	if req.AcceptedCredentialTypes != nil && !slices.Contains(req.AcceptedCredentialTypes, k.cred.typ) {
		return k.refuse("credential type %s is not supported by every member of the group", k.cred.typ)
	}
	for _, t := range req.CredentialTypes {
		if !slices.Contains(caps.Credentials, uint16(t)) {
			return k.refuse("capabilities do not list credential type %s, which members of the group use", t)
		}
	}
	for _, ext := range req.Extensions {
		if !slices.Contains(caps.Extensions, ext) {
			return k.refuse("capabilities do not list extension 0x%04x, which the group uses", ext)
		}
	}
	for _, ext := range k.kp.LeafNode.Extensions {
		if !slices.Contains(caps.Extensions, uint16(ext.Type)) {
			return k.refuse("leaf node extension 0x%04x is not listed in its capabilities", uint16(ext.Type))
		}
	}
	return nil
}

func (k *KeyPackage) checkLifetime(req Requirements) error {
	lt := k.kp.LeafNode.Lifetime
	if lt == nil {
		return k.refuse("no lifetime")
	}
	now := req.Now.Unix()
	if now < 0 || uint64(now) < lt.NotBefore {
		return k.refuse("lifetime starts at %s, after %s", unixTime(lt.NotBefore).Format(time.RFC3339), req.Now.UTC().Format(time.RFC3339))
	}
	if uint64(now) > lt.NotAfter {
		return k.refuse("lifetime ended at %s, before %s", unixTime(lt.NotAfter).Format(time.RFC3339), req.Now.UTC().Format(time.RFC3339))
	}
	if req.MaxLifetime > 0 && lt.NotAfter-lt.NotBefore > uint64(req.MaxLifetime/time.Second) {
		return k.refuse("lifetime of %s exceeds the allowed %s", time.Duration(lt.NotAfter-lt.NotBefore)*time.Second, req.MaxLifetime)
	}
	if k.cred.typ == CredentialX509 {
		leafCert := k.cred.certs[0]
		if req.Now.Before(leafCert.NotBefore) || req.Now.After(leafCert.NotAfter) {
			return k.refuse("the x509 leaf certificate is valid from %s to %s, not at %s",
				leafCert.NotBefore.UTC().Format(time.RFC3339), leafCert.NotAfter.UTC().Format(time.RFC3339), req.Now.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// treeLeaf is the leaf node in mls-go's tree form, whose verifier computes
// the LeafNodeTBS.
func (k *KeyPackage) treeLeaf() *treesync.LeafNodeData { return treeLeafOf(k.kp.LeafNode) }

func (k *KeyPackage) refuse(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrKeyPackage}, args...)...)
}
