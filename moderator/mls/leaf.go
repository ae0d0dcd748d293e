package mls

import (
	"crypto/ecdsa"
	"crypto/elliptic"

	"github.com/thomas-vilte/mls-go/keypackages"
	"github.com/thomas-vilte/mls-go/treesync"
)

// Leaf node sources (RFC 9420 §7.2).
const (
	leafSourceKeyPackage = 1
	leafSourceUpdate     = 2
)

// leafCapabilities is what leaves built here advertise: MLS 1.0, the group's
// suite and both credential types, so members with Basic and X.509
// credentials can share a group. No GREASE values are added, which keeps the
// leaves built here reproducible.
func leafCapabilities(suite Suite) *treesync.LeafNodeCapabilities {
	return &treesync.LeafNodeCapabilities{
		ProtocolVersions: []uint16{uint16(keypackages.MLS10)},
		CipherSuites:     []uint16{uint16(suite)},
		Extensions:       []uint16{},
		Proposals:        []uint16{},
		Credentials:      []uint16{uint16(CredentialBasic), uint16(CredentialX509)},
	}
}

// keyPackageLeaf converts a signed tree leaf into mls-go's key package leaf
// form, which proposals and key packages carry.
func keyPackageLeaf(leaf *treesync.LeafNodeData, signature []byte) *keypackages.LeafNode {
	caps := leaf.Capabilities
	versions := make([]keypackages.ProtocolVersion, len(caps.ProtocolVersions))
	for i, v := range caps.ProtocolVersions {
		versions[i] = keypackages.ProtocolVersion(v)
	}
	suites := make([]keypackages.CipherSuite, len(caps.CipherSuites))
	for i, s := range caps.CipherSuites {
		suites[i] = keypackages.CipherSuite(s)
	}
	out := &keypackages.LeafNode{
		EncryptionKey:     leaf.EncryptionKey,
		SignatureKeyBytes: leaf.SignatureKeyRaw,
		Credential:        leaf.Credential,
		Capabilities: &keypackages.Capabilities{
			ProtocolVersions: versions,
			CipherSuites:     suites,
			Extensions:       caps.Extensions,
			Proposals:        caps.Proposals,
			Credentials:      caps.Credentials,
		},
		Extensions:     []keypackages.Extension{},
		LeafNodeSource: leaf.LeafNodeSource,
		Signature:      signature,
	}
	if leaf.Lifetime != nil {
		out.Lifetime = &keypackages.Lifetime{NotBefore: leaf.Lifetime.NotBefore, NotAfter: leaf.Lifetime.NotAfter}
	}
	// mls-go keeps P-256 keys parsed as well as raw; fill both like its parser.
	if len(leaf.SignatureKeyRaw) == 65 {
		if pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), leaf.SignatureKeyRaw); err == nil {
			out.SignatureKey = pub
		}
	}
	return out
}

// treeLeafOf converts a key package or proposal leaf into mls-go's tree
// form, whose verifier computes the LeafNodeTBS.
func treeLeafOf(ln *keypackages.LeafNode) *treesync.LeafNodeData {
	out := &treesync.LeafNodeData{
		EncryptionKey:   ln.EncryptionKey,
		SignatureKey:    ln.SignatureKey,
		SignatureKeyRaw: ln.SignatureKeyBytes,
		Credential:      ln.Credential,
		LeafNodeSource:  ln.LeafNodeSource,
		ParentHash:      ln.ParentHash,
		Signature:       ln.Signature,
	}
	if c := ln.Capabilities; c != nil {
		out.Capabilities = &treesync.LeafNodeCapabilities{
			Extensions:  c.Extensions,
			Proposals:   c.Proposals,
			Credentials: c.Credentials,
		}
		for _, v := range c.ProtocolVersions {
			out.Capabilities.ProtocolVersions = append(out.Capabilities.ProtocolVersions, uint16(v))
		}
		for _, s := range c.CipherSuites {
			out.Capabilities.CipherSuites = append(out.Capabilities.CipherSuites, uint16(s))
		}
	}
	if ln.Lifetime != nil {
		out.Lifetime = &treesync.LeafNodeLifetime{NotBefore: ln.Lifetime.NotBefore, NotAfter: ln.Lifetime.NotAfter}
	}
	for _, ext := range ln.Extensions {
		out.Extensions = append(out.Extensions, extensionBytes(uint16(ext.Type), ext.Data))
	}
	return out
}

// extensionBytes encodes an Extension (type, then data with an RFC 9420
// §2.1.2 variable-length prefix) the way mls-go's tree leaves hold them.
func extensionBytes(typ uint16, data []byte) []byte {
	out := []byte{byte(typ >> 8), byte(typ)}
	switch n := len(data); {
	case n < 1<<6:
		out = append(out, byte(n))
	case n < 1<<14:
		out = append(out, byte(n>>8)|0x40, byte(n))
	default:
		out = append(out, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, data...)
}
