package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Credential types, as Input.CredentialType and credential_types spell them.
const (
	CredentialBasic = "basic"
	CredentialX509  = "x509"
)

// Policy is a compiled admission policy. It is immutable and safe for
// concurrent use. The zero Policy, like a nil *Policy, admits every verified
// identity.
type Policy struct {
	providers       []string
	credentialTypes []string
	allow           rules
	deny            rules
	maxMembers      int
	minRemaining    time.Duration
}

// Default returns the policy of a group without a policy file: every
// verified identity is admitted, as in SLIM.
func Default() *Policy {
	return &Policy{}
}

const noAllowNote = "no allow conditions: any verified identity is admitted unless deny, providers, credential_types, max_members or min_remaining_validity refuses it"

// Notes returns remarks an operator should see when the policy is loaded,
// such as a missing allow section; nil when there are none.
func (p *Policy) Notes() []string {
	if p == nil || p.allow.empty() {
		return []string{noAllowNote}
	}
	return nil
}

// rules is a compiled allow or deny section.
type rules struct {
	spiffeIDs    []spiffePattern
	trustDomains []string
	subjects     []subjectPattern
	issuers      []string
	claims       []claimRule // sorted by name, so reasons are stable
	cel          *celRule
}

func (r *rules) empty() bool {
	return len(r.spiffeIDs) == 0 && len(r.trustDomains) == 0 && len(r.subjects) == 0 &&
		len(r.issuers) == 0 && len(r.claims) == 0 && r.cel == nil
}

type subjectPattern struct {
	raw string
	re  *regexp.Regexp
}

type claimRule struct {
	name   string
	values []string
}

func compile(cfg Config) (*Policy, error) {
	p := &Policy{maxMembers: cfg.MaxMembers, minRemaining: cfg.MinRemainingValidity}
	for i, name := range cfg.Providers {
		if !plainName(name) {
			return nil, fmt.Errorf("providers[%d] is %s; name a plugin entry, without white space", i, describeName(name))
		}
	}
	p.providers = slices.Clone(cfg.Providers)
	for i, t := range cfg.CredentialTypes {
		if t != CredentialBasic && t != CredentialX509 {
			return nil, fmt.Errorf("credential_types[%d]: %q is not a credential type; use %s or %s", i, t, CredentialBasic, CredentialX509)
		}
	}
	p.credentialTypes = slices.Clone(cfg.CredentialTypes)
	if cfg.MaxMembers < 0 {
		return nil, fmt.Errorf("max_members is %d; use a positive number, or leave it out for no cap", cfg.MaxMembers)
	}
	if cfg.MinRemainingValidity < 0 {
		return nil, fmt.Errorf("min_remaining_validity is %s; use a positive duration such as 1m, or leave it out", cfg.MinRemainingValidity)
	}
	var err error
	if p.allow, err = compileRules("allow", cfg.Allow); err != nil {
		return nil, err
	}
	if p.deny, err = compileRules("deny", cfg.Deny); err != nil {
		return nil, err
	}
	return p, nil
}

func compileRules(section string, cfg Rules) (rules, error) {
	var r rules
	for i, raw := range cfg.SPIFFEIDs {
		pat, err := parseSPIFFEPattern(raw)
		if err != nil {
			return rules{}, fmt.Errorf("%s.spiffe_ids[%d]: %w", section, i, err)
		}
		r.spiffeIDs = append(r.spiffeIDs, pat)
	}
	for i, raw := range cfg.TrustDomains {
		td, err := parseTrustDomain(raw)
		if err != nil {
			return rules{}, fmt.Errorf("%s.trust_domains[%d]: %w", section, i, err)
		}
		r.trustDomains = append(r.trustDomains, td)
	}
	for i, raw := range cfg.Subjects {
		if raw == "" {
			return rules{}, fmt.Errorf("%s.subjects[%d] is empty; write an RE2 expression such as '^org/ns/alice_.*$'", section, i)
		}
		pat, err := compileSubject(raw)
		if err != nil {
			return rules{}, fmt.Errorf("%s.subjects[%d]: %w", section, i, err)
		}
		r.subjects = append(r.subjects, pat)
	}
	for i, iss := range cfg.Issuers {
		if !plainName(iss) {
			return rules{}, fmt.Errorf("%s.issuers[%d] is %s; write the issuer as tokens carry it in `iss`", section, i, describeName(iss))
		}
	}
	r.issuers = slices.Clone(cfg.Issuers)
	for name, values := range cfg.Claims {
		if !plainName(name) {
			return rules{}, fmt.Errorf("%s.claims has a claim name that is %s; write the claim as tokens carry it, without white space", section, describeName(name))
		}
		if len(values) == 0 {
			return rules{}, fmt.Errorf("%s.claims.%s lists no values; list the accepted values or remove the claim", section, name)
		}
		r.claims = append(r.claims, claimRule{name: name, values: slices.Clone(values)})
	}
	slices.SortFunc(r.claims, func(a, b claimRule) int { return strings.Compare(a.name, b.name) })
	if !trimmedEmpty(cfg.CEL) {
		rule, err := compileCEL(section+".cel", cfg.CEL)
		if err != nil {
			return rules{}, err
		}
		r.cel = rule
	}
	return r, nil
}

// compileSubject anchors an RE2 expression so that it must match the whole
// subject.
func compileSubject(raw string) (subjectPattern, error) {
	if _, err := regexp.Compile(raw); err != nil {
		return subjectPattern{}, fmt.Errorf("%s is not a valid RE2 expression: %s", patternText(raw), regexpProblem(err))
	}
	re, err := regexp.Compile(`^(?:` + raw + `)$`)
	if err != nil {
		return subjectPattern{}, fmt.Errorf("%s cannot be anchored: %s", patternText(raw), regexpProblem(err))
	}
	return subjectPattern{raw: raw, re: re}, nil
}
