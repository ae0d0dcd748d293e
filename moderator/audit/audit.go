package audit

import "time"

// Kind names what happened to a member.
type Kind string

// Event kinds. Their spelling is part of the audit format.
const (
	// Admitted: a key package passed every check and its owner was added.
	Admitted Kind = "admitted"
	// Refused: a key package was refused; Reason says why.
	Refused Kind = "refused"
	// Removed: a member was removed by an operator or after a trust change.
	Removed Kind = "removed"
	// Updated: a member's (or the moderator's own) renewed credential was
	// committed.
	Updated Kind = "updated"
	// UpdateRefused: a member's Update proposal was dropped; Reason says why.
	UpdateRefused Kind = "update_refused"
	// Expired: a member whose credential was not renewed was removed after
	// the grace period.
	Expired Kind = "expired"
	// Reverified: after a trust change, a member's recorded credential still
	// verified.
	Reverified Kind = "reverified"
)

// Field names of an event, in logs and in JSON lines alike. They are stable:
// alerting and log pipelines may match on them.
const (
	FieldTime           = "time"
	FieldEvent          = "event"
	FieldGroup          = "group"
	FieldEpoch          = "epoch"
	FieldSubject        = "subject"
	FieldProvider       = "provider"
	FieldCredentialType = "credential_type" //nolint:gosec // a field name, not a credential
	FieldReason         = "reason"
)

// Event is one audit record.
type Event struct {
	Time  time.Time `json:"time"`
	Kind  Kind      `json:"event"`
	Group string    `json:"group"`
	// Epoch is the group's epoch after the change, or its current epoch for
	// a refusal.
	Epoch   uint64 `json:"epoch"`
	Subject string `json:"subject,omitempty"`
	// Provider is the plugin entry that vouched for the credential.
	Provider string `json:"provider,omitempty"`
	// CredentialType is "basic" or "x509".
	CredentialType string `json:"credential_type,omitempty"`
	// Reason is why, for a person: a refusal's cause, a removal's reason.
	Reason string `json:"reason,omitempty"`
}

// Sink receives audit events. Record must be safe for concurrent use. An
// error means the event was not recorded; the caller logs it and carries on
// (the group change it describes has already happened).
type Sink interface {
	Record(Event) error
}

// Discard is a Sink that drops every event.
var Discard Sink = discard{}

type discard struct{}

func (discard) Record(Event) error { return nil }

// Multi returns a Sink that records every event in each sink, in order, and
// reports the first error.
func Multi(sinks ...Sink) Sink { return multi(sinks) }

type multi []Sink

func (m multi) Record(e Event) error {
	var first error
	for _, s := range m {
		if err := s.Record(e); err != nil && first == nil {
			first = err
		}
	}
	return first
}
