package mls

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/thomas-vilte/mls-go/group"
)

// mlsMessageWelcomeHeader starts an MLSMessage carrying a Welcome: version
// mls10 (1), wire format mls_welcome (3).
var mlsMessageWelcomeHeader = []byte{0, 1, 0, 3}

// JoinGroup joins the group a Welcome (an RFC 9420 MLSMessage) invites
// bundle's key package to. The Welcome must carry the ratchet tree,
// as the Welcomes made by Commit do. The bundle must not be reused.
func JoinGroup(welcome []byte, bundle *KeyPackageBundle) (g *Group, err error) {
	if bundle == nil {
		return nil, fmt.Errorf("mls: no key package bundle given")
	}
	defer func() {
		if r := recover(); r != nil {
			g, err = nil, faultError(ErrWelcome, r)
		}
	}()
	if len(welcome) < len(mlsMessageWelcomeHeader) || welcome[0] != 0 || welcome[1] != 1 {
		return nil, fmt.Errorf("%w: not an MLS 1.0 MLSMessage", ErrWelcome)
	}
	if !bytes.HasPrefix(welcome, mlsMessageWelcomeHeader) {
		return nil, fmt.Errorf("%w: the MLSMessage has wire format %d, not mls_welcome (3)", ErrWelcome, int(welcome[2])<<8|int(welcome[3]))
	}
	bare := welcome[len(mlsMessageWelcomeHeader):]
	w, err := group.UnmarshalWelcome(bare)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed: %v", ErrWelcome, err)
	}
	if !bytes.Equal(w.Marshal(), bare) {
		return nil, fmt.Errorf("%w: malformed: trailing bytes or a non-canonical encoding", ErrWelcome)
	}
	suite := bundle.kp.suite
	if Suite(w.CipherSuite) != suite {
		return nil, fmt.Errorf("%w: ciphersuite 0x%04x does not match the key package's 0x%04x", ErrWelcome, uint16(w.CipherSuite), uint16(suite))
	}
	mg, err := group.JoinFromWelcome(w, bundle.kp.kp, bundle.privateKeys(), nil)
	if errors.Is(err, group.ErrWelcomeNoEncryptedSecrets) {
		return nil, fmt.Errorf("%w: not addressed to key package %s", ErrWelcome, bundle.kp.ref)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: refused: %v", ErrWelcome, err)
	}
	if Suite(mg.CipherSuite()) != suite {
		return nil, fmt.Errorf("%w: the group uses ciphersuite 0x%04x, the key package 0x%04x", ErrWelcome, uint16(mg.CipherSuite()), uint16(suite))
	}
	return &Group{g: mg, suite: suite, signer: bundle.signer}, nil
}
