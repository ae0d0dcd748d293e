package mls

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"math"

	"github.com/thomas-vilte/mls-go/ciphersuite"
	"github.com/thomas-vilte/mls-go/keypackages"
	"github.com/thomas-vilte/mls-go/treesync"
)

// KeyPackageBundle is a key package together with the private keys its owner
// needs to join from a Welcome that uses it. Keep it until the Welcome comes;
// use it for one group only. Marshal saves it (with its private keys) and
// RestoreKeyPackageBundle brings it back, for a Welcome that arrives later.
type KeyPackageBundle struct {
	kp      *KeyPackage
	signer  *Signer
	initKey *ecdh.PrivateKey
	encKey  *ecdh.PrivateKey
}

// NewKeyPackage builds and signs a key package for signer's suite. The
// credential is a BasicCredential (for SLIM, the identity token as identity
// bytes) or an X509Credential whose leaf certificate holds signer's key.
func NewKeyPackage(signer *Signer, cred Credential, lifetime Lifetime) (*KeyPackageBundle, error) {
	if lifetime.NotBefore.Unix() < 0 || !lifetime.NotAfter.After(lifetime.NotBefore) {
		return nil, fmt.Errorf("mls: key package lifetime must end after it starts, and not start before 1970")
	}
	return buildKeyPackage(signer, cred, uint64(lifetime.NotBefore.Unix()), uint64(lifetime.NotAfter.Unix()))
}

func buildKeyPackage(signer *Signer, cred Credential, notBefore, notAfter uint64) (*KeyPackageBundle, error) {
	if signer == nil {
		return nil, fmt.Errorf("mls: key package: no signer given")
	}
	if cred.IsZero() {
		return nil, fmt.Errorf("mls: key package: no credential given")
	}
	if !cred.leafKeyMatches(signer.pub) {
		return nil, fmt.Errorf("mls: key package: the x509 leaf certificate does not hold the signer's public key")
	}
	suite := signer.suite
	curve := suite.mls().Curve()
	initKey, err := curve.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("mls: key package: generating the init key: %v", err)
	}
	encKey, err := curve.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("mls: key package: generating the encryption key: %v", err)
	}
	leaf := &treesync.LeafNodeData{
		EncryptionKey:   encKey.PublicKey().Bytes(),
		SignatureKeyRaw: signer.PublicKey(),
		Credential:      cred.mls(),
		Capabilities:    leafCapabilities(suite),
		Lifetime:        &treesync.LeafNodeLifetime{NotBefore: notBefore, NotAfter: notAfter},
		LeafNodeSource:  leafSourceKeyPackage,
	}
	leafSig, err := ciphersuite.SignWithLabel(signer.key, "LeafNodeTBS", leaf.MarshalTBS())
	if err != nil {
		return nil, fmt.Errorf("mls: key package: signing the leaf node: %v", err)
	}
	mkp := &keypackages.KeyPackage{
		ProtocolVersion: keypackages.MLS10,
		CipherSuite:     suite.mls(),
		InitKey:         initKey.PublicKey().Bytes(),
		LeafNode:        keyPackageLeaf(leaf, leafSig.AsSlice()),
		Extensions:      []keypackages.Extension{},
	}
	sig, err := ciphersuite.SignWithLabel(signer.key, "KeyPackageTBS", mkp.MarshalTBS())
	if err != nil {
		return nil, fmt.Errorf("mls: key package: signing: %v", err)
	}
	mkp.Signature = sig.AsSlice()
	return &KeyPackageBundle{
		kp:      newKeyPackage(mkp, mkp.Marshal(), cred),
		signer:  signer,
		initKey: initKey,
		encKey:  encKey,
	}, nil
}

// creatorKeyPackage builds the creator's own leaf with an unbounded lifetime: it is never offered as
// a key package and is replaced by the creator's first commit with a path.
func creatorKeyPackage(signer *Signer, cred Credential) (*KeyPackageBundle, error) {
	return buildKeyPackage(signer, cred, 0, math.MaxUint64)
}

// KeyPackage returns the public key package to hand to the moderator.
func (b *KeyPackageBundle) KeyPackage() *KeyPackage { return b.kp }

// Signer returns the signer the key package was built for.
func (b *KeyPackageBundle) Signer() *Signer { return b.signer }

func (b *KeyPackageBundle) privateKeys() *keypackages.KeyPackagePrivateKeys {
	priv := &keypackages.KeyPackagePrivateKeys{InitKey: b.initKey, EncryptionKey: b.encKey}
	switch k := b.signer.raw.(type) {
	case ed25519.PrivateKey:
		priv.Ed25519SignatureKey = k
	case *ecdsa.PrivateKey:
		priv.SignatureKey = k
	}
	return priv
}
