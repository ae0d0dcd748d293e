package sdk

import (
	"errors"
	"fmt"
)

// Verdicts: the credential was examined and refused. Every one of them
// satisfies errors.Is(err, ErrRejected). Plugins build them with Reject so the
// message says what was wrong; the reason survives the trip over gRPC.
var (
	// ErrRejected is the class of every verdict below.
	ErrRejected = errors.New("credential rejected")

	// ErrInvalid: malformed, or the signature or MAC does not check out.
	ErrInvalid = &reason{code: "INVALID", text: "invalid credential"}
	// ErrExpired: past its expiry (beyond any leeway).
	ErrExpired = &reason{code: "EXPIRED", text: "credential expired"}
	// ErrNotYetValid: issued in the future or before its nbf.
	ErrNotYetValid = &reason{code: "NOT_YET_VALID", text: "credential not yet valid"}
	// ErrAudience: none of the expected audiences is in the token.
	ErrAudience = &reason{code: "AUDIENCE", text: "audience mismatch"}
	// ErrKeyMismatch: the bound public key is not the expected one.
	ErrKeyMismatch = &reason{code: "KEY_MISMATCH", text: "bound key mismatch"}
	// ErrUntrusted: signed by an unknown key, issuer or trust domain.
	ErrUntrusted = &reason{code: "UNTRUSTED", text: "untrusted signer"}
	// ErrReplayed: a single-use token seen before.
	ErrReplayed = &reason{code: "REPLAYED", text: "credential replayed"}
	// ErrPolicy: verified, but a rule forbids it (subject, claim condition).
	ErrPolicy = &reason{code: "POLICY", text: "refused by policy"}
)

// Outages and misuse: the provider could not decide. None of these is ever an
// accept.
var (
	// ErrUnavailable: the provider is down, restarting or cannot reach its
	// source. Callers must fail closed.
	ErrUnavailable = errors.New("provider unavailable")
	// ErrNotConfigured: a call came before a successful Configure. It is also
	// ErrUnavailable.
	ErrNotConfigured = &outage{text: "not configured"}
	// ErrInvalidConfig: a configuration was refused.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrUnsupported: the plugin does not offer this capability.
	ErrUnsupported = errors.New("not supported by this plugin")
	// ErrNotFound: the named plugin (or other object) does not exist.
	ErrNotFound = errors.New("not found")
)

// reasons lists every verdict, for mapping reason codes back to sentinels.
var reasons = []*reason{ErrInvalid, ErrExpired, ErrNotYetValid, ErrAudience, ErrKeyMismatch, ErrUntrusted, ErrReplayed, ErrPolicy}

// reason is a verdict sentinel.
type reason struct{ code, text string }

func (r *reason) Error() string        { return r.text }
func (r *reason) Is(target error) bool { return target == ErrRejected }

// Code is the reason's stable name, as carried over the wire.
func (r *reason) Code() string { return r.code }

// outage is an outage sentinel other than ErrUnavailable itself.
type outage struct{ text string }

func (o *outage) Error() string        { return o.text }
func (o *outage) Is(target error) bool { return target == ErrUnavailable }

// detailed is an error with its own message that is also one of the
// sentinels above.
type detailed struct {
	msg  string
	kind error
}

func (e *detailed) Error() string { return e.msg }
func (e *detailed) Unwrap() error { return e.kind }

// Reject returns a verdict of the given kind (ErrExpired, ErrAudience, ...)
// whose message is the formatted text.
func Reject(kind error, format string, args ...any) error {
	return &detailed{msg: fmt.Sprintf(format, args...), kind: kind}
}

// Unavailable returns an outage whose message is the formatted text.
func Unavailable(format string, args ...any) error {
	return &detailed{msg: fmt.Sprintf(format, args...), kind: ErrUnavailable}
}

// InvalidConfig returns a configuration error whose message is the formatted
// text.
func InvalidConfig(format string, args ...any) error {
	return &detailed{msg: fmt.Sprintf(format, args...), kind: ErrInvalidConfig}
}

// ReasonCode names the verdict in err ("EXPIRED", ...), or "" when err is not
// a verdict.
func ReasonCode(err error) string {
	var r *reason
	if errors.As(err, &r) {
		return r.code
	}
	if errors.Is(err, ErrRejected) {
		return ErrInvalid.code
	}
	return ""
}

// reasonByCode maps a wire code back to its sentinel; unknown codes become
// ErrInvalid so a newer plugin's verdict stays a verdict.
func reasonByCode(code string) *reason {
	for _, r := range reasons {
		if r.code == code {
			return r
		}
	}
	return ErrInvalid
}
