package mls

import "errors"

// Sentinel errors. Refusals of peer input (a key package, a Welcome, a
// message) wrap ErrKeyPackage, ErrWelcome or ErrMessage so a caller can tell a
// verdict on untrusted bytes from a fault in its own state.
var (
	// ErrUnsupportedSuite marks a ciphersuite other than 0x0001, 0x0002 or 0x0003.
	ErrUnsupportedSuite = errors.New("mls: unsupported ciphersuite")

	// ErrKeyPackage marks a key package that was refused: malformed, badly
	// signed, expired, or not fit for the group. The text that follows names
	// what was wrong.
	ErrKeyPackage = errors.New("key package")

	// ErrWelcome marks a Welcome that was refused.
	ErrWelcome = errors.New("welcome")

	// ErrMessage marks an MLS message (commit, proposal or application
	// message) that was refused.
	ErrMessage = errors.New("mls message")

	// ErrWrongEpoch marks a commit or proposal for an epoch other than the
	// group's current one. Commits must be applied in order.
	ErrWrongEpoch = errors.New("mls message: wrong epoch")

	// ErrRemoved is returned by every operation on a group this member was
	// removed from.
	ErrRemoved = errors.New("mls: this member was removed from the group")

	// ErrDamaged is returned once a failed commit left the group state
	// inconsistent; restore the group from its last saved state.
	ErrDamaged = errors.New("mls: group state damaged by a failed commit; restore it from the last saved state")

	// ErrState marks saved group state that cannot be restored.
	ErrState = errors.New("mls state")
)
