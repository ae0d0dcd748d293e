package policy

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/slimid/slimid/sdk"
)

// Input is what an admission decision looks at.
type Input struct {
	// Identity is what the broker verified; Identity.Provider names the
	// plugin entry that vouched for it.
	Identity sdk.Identity
	// CredentialType is how the identity was proved: CredentialBasic or
	// CredentialX509.
	CredentialType string
	// Group is the group the identity asks to join.
	Group Group
	// Now is the admission time. It must be set: the policy reads no clock.
	Now time.Time
}

// Group describes the group at the moment of admission.
type Group struct {
	Name string
	// Size counts the members before this admission, the moderator and any
	// members already admitted into the same commit included.
	Size  int
	Epoch uint64
}

// Decision is the outcome of an admission check.
type Decision struct {
	Allowed bool
	// Rule names the rule that decided, as the policy file spells it:
	// "deny.subjects[0]", "allow.cel", "max_members"; "expiry" for an
	// expired credential; "allow" when every allow condition held, "default"
	// when the policy has none, and "input" when the Input is unusable.
	Rule string
	// Reason says, for a person, why.
	Reason string
}

// String returns the decision on one line, for logs.
func (d Decision) String() string {
	if d.Allowed {
		return "admitted by " + d.Rule + ": " + d.Reason
	}
	return "refused by " + d.Rule + ": " + d.Reason
}

var zeroPolicy Policy

func refuse(rule, reason string) Decision { return Decision{Rule: rule, Reason: reason} }

const defaultReason = "the policy has no allow conditions, so any verified identity is admitted"

// evaluation holds what one Evaluate call derives from its Input once.
type evaluation struct {
	in       *Input
	spiffeID spiffeid.ID
	isSPIFFE bool
	vars     *celVars // nil when the policy has no CEL
}

// Evaluate decides whether in.Identity may join in.Group. After the Input
// itself, deny rules come first and win; then providers, credential_types,
// the credential's validity, max_members and the allow conditions, in that
// order. A CEL expression that fails to evaluate refuses.
func (p *Policy) Evaluate(in Input) Decision {
	if p == nil {
		p = &zeroPolicy
	}
	if in.Identity.Subject == "" {
		return refuse("input", "the identity has no subject; the verifier must report one")
	}
	if in.Now.IsZero() {
		return refuse("input", "the admission time is missing; set Input.Now")
	}
	ev := evaluation{in: &in}
	ev.spiffeID, ev.isSPIFFE = subjectSPIFFE(in.Identity.Subject)
	if p.allow.cel != nil || p.deny.cel != nil {
		ev.vars = newCELVars(&ev)
	}
	if d, denied := p.deny.denies(&ev); denied {
		return d
	}
	if len(p.providers) > 0 && !slices.Contains(p.providers, in.Identity.Provider) {
		return refuse("providers", fmt.Sprintf("provider %q is not in providers %s", in.Identity.Provider, listText(p.providers)))
	}
	if len(p.credentialTypes) > 0 && !slices.Contains(p.credentialTypes, in.CredentialType) {
		return refuse("credential_types", fmt.Sprintf("credential type %q is not in credential_types %s", in.CredentialType, listText(p.credentialTypes)))
	}
	if d, ok := p.checkValidity(&in); !ok {
		return d
	}
	if p.maxMembers > 0 && in.Group.Size >= p.maxMembers {
		return refuse("max_members", fmt.Sprintf("group %q has %d members, and max_members is %d", in.Group.Name, in.Group.Size, p.maxMembers))
	}
	if p.allow.empty() {
		return Decision{Allowed: true, Rule: "default", Reason: defaultReason}
	}
	return p.allow.allows(&ev)
}

func (p *Policy) checkValidity(in *Input) (Decision, bool) {
	exp := in.Identity.ExpiresAt
	if !exp.IsZero() && !in.Now.Before(exp) {
		return refuse("expiry", fmt.Sprintf("the credential expired at %s, at or before the admission time %s",
			timeText(exp), timeText(in.Now))), false
	}
	if p.minRemaining <= 0 {
		return Decision{}, true
	}
	if exp.IsZero() {
		return refuse("min_remaining_validity", fmt.Sprintf("the credential has no expiry time, and min_remaining_validity %s needs one", p.minRemaining)), false
	}
	if left := exp.Sub(in.Now); left < p.minRemaining {
		return refuse("min_remaining_validity", fmt.Sprintf("the credential expires at %s, in %s, sooner than min_remaining_validity %s",
			timeText(exp), left, p.minRemaining)), false
	}
	return Decision{}, true
}

func timeText(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func newCELVars(ev *evaluation) *celVars {
	id := &ev.in.Identity
	v := &celVars{
		identity: celIdentity{
			Subject:        id.Subject,
			Issuer:         id.Issuer,
			Audiences:      id.Audiences,
			Provider:       id.Provider,
			Claims:         id.Claims,
			CredentialType: ev.in.CredentialType,
			ExpiresAt:      id.ExpiresAt,
			IssuedAt:       id.IssuedAt,
			PublicKey:      id.PublicKey,
		},
		group: celGroup{
			Name:  ev.in.Group.Name,
			Size:  int64(ev.in.Group.Size),
			Epoch: int64(min(ev.in.Group.Epoch, math.MaxInt64)),
		},
		now: ev.in.Now,
	}
	if v.identity.Claims == nil {
		v.identity.Claims = map[string]any{}
	}
	if ev.isSPIFFE {
		v.identity.SPIFFEID = ev.spiffeID.String()
		v.identity.TrustDomain = ev.spiffeID.TrustDomain().Name()
	}
	return v
}
