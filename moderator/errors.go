package moderator

import (
	"errors"
	"fmt"

	"github.com/slimid/slimid/sdk"
)

// Errors about the moderator's own objects.
var (
	// ErrUnknownGroup: no group by that name. It is also sdk.ErrNotFound.
	ErrUnknownGroup = &classed{text: "unknown group", class: sdk.ErrNotFound}
	// ErrGroupExists: CreateGroup was given a name already in use.
	ErrGroupExists = errors.New("group exists")
	// ErrNotMember: Remove named a subject that is not in the group. It is
	// also sdk.ErrNotFound.
	ErrNotMember = &classed{text: "not a member", class: sdk.ErrNotFound}
	// ErrClosed: the Moderator was closed.
	ErrClosed = errors.New("moderator closed")
)

// Refusals the moderator makes itself. Each is also sdk.ErrRejected, and
// the refusal that carries it usually names an sdk verdict as well
// (ErrKeyMismatch, ErrPolicy, ...), so callers can errors.Is either.
var (
	// ErrUnbound: the token binds no public key, so it proves nothing about
	// the key package that carries it. Also sdk.ErrKeyMismatch.
	ErrUnbound = &verdict{text: "unbound credential"}
	// ErrAlreadyMember: a member with the same subject is in the group.
	ErrAlreadyMember = &verdict{text: "already a member"}
	// ErrKeyPackageUsed: the key package was used to join before; key
	// packages are single-use.
	ErrKeyPackageUsed = &verdict{text: "key package already used"}
	// ErrSuccessor: an Update's new credential names another subject or
	// provider than the member's recorded identity.
	ErrSuccessor = &verdict{text: "successor mismatch"}
	// ErrMemberCommit: a member sent a commit; only the moderator commits.
	ErrMemberCommit = &verdict{text: "members do not commit"}
)

// classed is a sentinel that also belongs to a broader sdk class.
type classed struct {
	text  string
	class error
}

func (e *classed) Error() string        { return e.text }
func (e *classed) Is(target error) bool { return target == e.class }

// verdict is a moderator refusal sentinel; it is also sdk.ErrRejected.
type verdict struct{ text string }

func (v *verdict) Error() string        { return v.text }
func (v *verdict) Is(target error) bool { return target == sdk.ErrRejected }

// refusal is a refusal with its own message that matches every kind it
// names.
type refusal struct {
	msg   string
	kinds []error
}

func (r *refusal) Error() string   { return r.msg }
func (r *refusal) Unwrap() []error { return r.kinds }

// refuse builds a refusal of the given kinds; the first should be a
// verdict (sdk or moderator) so the refusal is sdk.ErrRejected.
func refuse(kinds []error, format string, args ...any) error {
	return &refusal{msg: fmt.Sprintf(format, args...), kinds: kinds}
}
