package mls

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// bundleFormat versions the saved key package bundle below.
const bundleFormat = 1

// savedBundle is a key package with the private keys its owner needs to
// join from a Welcome: kept between sending the key package and receiving
// the Welcome, possibly across restarts.
type savedBundle struct {
	Format     int    `json:"format"`
	Suite      Suite  `json:"suite"`
	KeyPackage []byte `json:"key_package"`
	Signer     []byte `json:"signer"`
	InitKey    []byte `json:"init_key"`
	EncKey     []byte `json:"enc_key"`
}

// Marshal serializes the bundle, private keys included: it is secret, keep
// it like a private key (mode 0600) until the Welcome comes.
func (b *KeyPackageBundle) Marshal() ([]byte, error) {
	signer, err := b.signer.marshal()
	if err != nil {
		return nil, err
	}
	return json.Marshal(savedBundle{
		Format:     bundleFormat,
		Suite:      b.signer.suite,
		KeyPackage: b.kp.BareBytes(),
		Signer:     signer,
		InitKey:    b.initKey.Bytes(),
		EncKey:     b.encKey.Bytes(),
	})
}

// RestoreKeyPackageBundle reverses Marshal, checking that the private keys
// belong to the key package.
func RestoreKeyPackageBundle(data []byte) (*KeyPackageBundle, error) {
	var s savedBundle
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%w: not a saved key package bundle: %v", ErrState, err)
	}
	if s.Format != bundleFormat {
		return nil, fmt.Errorf("%w: key package bundle format %d is not supported (want %d)", ErrState, s.Format, bundleFormat)
	}
	if err := s.Suite.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	signer, err := parseSigner(s.Suite, s.Signer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	kp, err := DecodeKeyPackage(s.KeyPackage)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	curve := s.Suite.mls().Curve()
	initKey, err := curve.NewPrivateKey(s.InitKey)
	if err != nil {
		return nil, fmt.Errorf("%w: init key: %v", ErrState, err)
	}
	encKey, err := curve.NewPrivateKey(s.EncKey)
	if err != nil {
		return nil, fmt.Errorf("%w: encryption key: %v", ErrState, err)
	}
	switch {
	case kp.Suite() != s.Suite:
		return nil, fmt.Errorf("%w: the key package uses suite %s, the bundle %s", ErrState, kp.Suite(), s.Suite)
	case !bytes.Equal(kp.SignatureKey(), signer.PublicKey()):
		return nil, fmt.Errorf("%w: the signature key does not belong to the key package", ErrState)
	case !bytes.Equal(kp.kp.InitKey, initKey.PublicKey().Bytes()):
		return nil, fmt.Errorf("%w: the init key does not belong to the key package", ErrState)
	case !bytes.Equal(kp.kp.LeafNode.EncryptionKey, encKey.PublicKey().Bytes()):
		return nil, fmt.Errorf("%w: the encryption key does not belong to the key package", ErrState)
	}
	return &KeyPackageBundle{kp: kp, signer: signer, initKey: initKey, encKey: encKey}, nil
}
