package mls

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// WireFormat is an MLSMessage's wire format (RFC 9420 §6).
type WireFormat uint16

// Wire formats.
const (
	WirePublicMessage  WireFormat = 1
	WirePrivateMessage WireFormat = 2
	WireWelcome        WireFormat = 3
	WireGroupInfo      WireFormat = 4
	WireKeyPackage     WireFormat = 5
)

// String returns the RFC 9420 name, such as "mls_welcome".
func (w WireFormat) String() string {
	switch w {
	case WirePublicMessage:
		return "mls_public_message"
	case WirePrivateMessage:
		return "mls_private_message"
	case WireWelcome:
		return "mls_welcome"
	case WireGroupInfo:
		return "mls_group_info"
	case WireKeyPackage:
		return "mls_key_package"
	}
	return fmt.Sprintf("wire format %d", uint16(w))
}

// ContentType is a group message's content type (RFC 9420 §6).
type ContentType uint8

// Content types.
const (
	ContentApplication ContentType = 1
	ContentProposal    ContentType = 2
	ContentCommit      ContentType = 3
)

// String returns "application", "proposal" or "commit".
func (c ContentType) String() string {
	switch c {
	case ContentApplication:
		return "application"
	case ContentProposal:
		return "proposal"
	case ContentCommit:
		return "commit"
	}
	return fmt.Sprintf("content type %d", uint8(c))
}

// Header is what an MLSMessage says about itself in the clear: enough to
// order and route it without decrypting or verifying anything. Nothing in
// it is authenticated.
type Header struct {
	WireFormat WireFormat
	// GroupID, Epoch and ContentType are set for public and private
	// messages.
	GroupID     []byte
	Epoch       uint64
	ContentType ContentType
	// SenderType and Sender (a leaf index for members) are set for public
	// messages; a private message encrypts its sender.
	SenderType uint8
	Sender     uint32
	// Suite is set for Welcomes and key packages.
	Suite Suite
	// Recipients are the key packages a Welcome is addressed to.
	Recipients []KeyPackageRef
}

// ErrMalformed marks bytes that are not an MLSMessage.
var ErrMalformed = errors.New("malformed MLS message")

// ParseHeader reads the clear header of an RFC 9420 MLSMessage.
func ParseHeader(msg []byte) (Header, error) {
	r := &reader{b: msg}
	version := r.u16()
	h := Header{WireFormat: WireFormat(r.u16())}
	if r.err != nil {
		return Header{}, fmt.Errorf("%w: shorter than its 4-byte header", ErrMalformed)
	}
	if version != 1 {
		return Header{}, fmt.Errorf("%w: protocol version %d is not MLS 1.0", ErrMalformed, version)
	}
	switch h.WireFormat {
	case WirePublicMessage:
		h.GroupID = r.vector()
		h.Epoch = r.u64()
		h.SenderType = r.u8()
		switch h.SenderType {
		case 1, 2: // member, external: an index follows
			h.Sender = r.u32()
		case 3, 4: // new_member_proposal, new_member_commit
		default:
			return Header{}, fmt.Errorf("%w: sender type %d", ErrMalformed, h.SenderType)
		}
		r.vector() // authenticated_data
		h.ContentType = ContentType(r.u8())
	case WirePrivateMessage:
		h.GroupID = r.vector()
		h.Epoch = r.u64()
		h.ContentType = ContentType(r.u8())
	case WireWelcome:
		h.Suite = Suite(r.u16())
		secrets := &reader{b: r.vector()}
		for r.err == nil && secrets.err == nil && len(secrets.b) > 0 {
			ref := secrets.vector()
			secrets.vector() // kem_output
			secrets.vector() // ciphertext
			if secrets.err == nil && len(ref) != len(KeyPackageRef{}) {
				return Header{}, fmt.Errorf("%w: Welcome names a key package reference of %d bytes", ErrMalformed, len(ref))
			}
			var kr KeyPackageRef
			copy(kr[:], ref)
			h.Recipients = append(h.Recipients, kr)
		}
		if secrets.err != nil {
			r.err = secrets.err
		}
	case WireKeyPackage:
		r.u16() // protocol version
		h.Suite = Suite(r.u16())
	case WireGroupInfo:
	default:
		return Header{}, fmt.Errorf("%w: unknown wire format %d", ErrMalformed, uint16(h.WireFormat))
	}
	if r.err != nil {
		return Header{}, fmt.Errorf("%w: %s is truncated or has a bad length", ErrMalformed, h.WireFormat)
	}
	if (h.WireFormat == WirePublicMessage || h.WireFormat == WirePrivateMessage) &&
		(h.ContentType < ContentApplication || h.ContentType > ContentCommit) {
		return Header{}, fmt.Errorf("%w: %s", ErrMalformed, h.ContentType)
	}
	return h, nil
}

// reader decodes RFC 9420 §2.1 TLS presentation language; the first error
// sticks and every later read returns zero.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = errors.New("truncated")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// vector reads an opaque<V>: a minimal variable-length integer length
// (RFC 9420 §2.1.2), then that many bytes.
func (r *reader) vector() []byte {
	first := r.u8()
	if r.err != nil {
		return nil
	}
	var n uint32
	switch first >> 6 {
	case 0:
		n = uint32(first)
	case 1:
		n = uint32(first&0x3f)<<8 | uint32(r.u8())
		if n < 1<<6 && r.err == nil {
			r.err = errors.New("non-minimal length")
		}
	case 2:
		rest := r.take(3)
		if rest == nil {
			return nil
		}
		n = uint32(first&0x3f)<<24 | uint32(rest[0])<<16 | uint32(rest[1])<<8 | uint32(rest[2])
		if n < 1<<14 {
			r.err = errors.New("non-minimal length")
		}
	default:
		r.err = errors.New("invalid length prefix")
	}
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(r.b)) {
		r.err = errors.New("truncated")
		return nil
	}
	return r.take(int(n))
}
