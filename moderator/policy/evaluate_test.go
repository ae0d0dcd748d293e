package policy_test

import (
	"testing"
	"time"

	"github.com/slimid/slimid/moderator/policy"
)

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name   string
		policy string
		input  func() policy.Input
		edit   func(*policy.Input)
		want   policy.Decision
	}{
		{
			name:   "empty policy admits any verified identity",
			policy: ``,
			input:  sharedSecretInput,
			want:   policy.Decision{Allowed: true, Rule: "default", Reason: "the policy has no allow conditions, so any verified identity is admitted"},
		},
		{
			name:   "identity without subject",
			policy: ``,
			input:  sharedSecretInput,
			edit:   func(in *policy.Input) { in.Identity.Subject = "" },
			want:   policy.Decision{Rule: "input", Reason: "the identity has no subject; the verifier must report one"},
		},
		{
			name:   "no admission time",
			policy: ``,
			input:  sharedSecretInput,
			edit:   func(in *policy.Input) { in.Now = time.Time{} },
			want:   policy.Decision{Rule: "input", Reason: "the admission time is missing; set Input.Now"},
		},
		{
			name:   "provider not listed",
			policy: `providers: [spire, idp]`,
			input:  sharedSecretInput,
			want:   policy.Decision{Rule: "providers", Reason: `provider "team" is not in providers [spire idp]`},
		},
		{
			name:   "provider listed",
			policy: `providers: [spire, team]`,
			input:  sharedSecretInput,
			want:   policy.Decision{Allowed: true, Rule: "default", Reason: "the policy has no allow conditions, so any verified identity is admitted"},
		},
		{
			name:   "credential type not listed",
			policy: `credential_types: [x509]`,
			input:  sharedSecretInput,
			want:   policy.Decision{Rule: "credential_types", Reason: `credential type "basic" is not in credential_types [x509]`},
		},
		{
			name:   "expired credential",
			policy: ``,
			input:  sharedSecretInput,
			edit:   func(in *policy.Input) { in.Identity.ExpiresAt = now },
			want:   policy.Decision{Rule: "expiry", Reason: "the credential expired at 2026-12-04T12:00:00Z, at or before the admission time 2026-12-04T12:00:00Z"},
		},
		{
			name:   "less validity left than min_remaining_validity",
			policy: `min_remaining_validity: 1m`,
			input:  sharedSecretInput,
			edit:   func(in *policy.Input) { in.Identity.ExpiresAt = now.Add(30 * time.Second) },
			want:   policy.Decision{Rule: "min_remaining_validity", Reason: "the credential expires at 2026-12-04T12:00:30Z, in 30s, sooner than min_remaining_validity 1m0s"},
		},
		{
			name:   "exactly min_remaining_validity left",
			policy: `min_remaining_validity: 1m`,
			input:  sharedSecretInput,
			edit:   func(in *policy.Input) { in.Identity.ExpiresAt = now.Add(time.Minute) },
			want:   policy.Decision{Allowed: true, Rule: "default", Reason: "the policy has no allow conditions, so any verified identity is admitted"},
		},
		{
			name:   "min_remaining_validity needs an expiry time",
			policy: `min_remaining_validity: 1m`,
			input:  sharedSecretInput,
			edit:   func(in *policy.Input) { in.Identity.ExpiresAt = time.Time{} },
			want:   policy.Decision{Rule: "min_remaining_validity", Reason: "the credential has no expiry time, and min_remaining_validity 1m0s needs one"},
		},
		{
			name:   "group full",
			policy: `max_members: 3`,
			input:  sharedSecretInput,
			want:   policy.Decision{Rule: "max_members", Reason: `group "org/ns/chat" has 3 members, and max_members is 3`},
		},
		{
			name:   "group has room for one more",
			policy: `max_members: 4`,
			input:  sharedSecretInput,
			want:   policy.Decision{Allowed: true, Rule: "default", Reason: "the policy has no allow conditions, so any verified identity is admitted"},
		},
		{
			name:   "allow.spiffe_ids exact",
			policy: `allow: {spiffe_ids: [spiffe://example.org/ns/agents/agent-b]}`,
			input:  spiffeInput,
			want:   policy.Decision{Allowed: true, Rule: "allow", Reason: `SPIFFE ID "spiffe://example.org/ns/agents/agent-b" matches allow.spiffe_ids[0] "spiffe://example.org/ns/agents/agent-b"`},
		},
		{
			name:   "allow.spiffe_ids prefix",
			policy: `allow: {spiffe_ids: [spiffe://example.org/agent-a, "spiffe://example.org/ns/*"]}`,
			input:  spiffeInput,
			want:   policy.Decision{Allowed: true, Rule: "allow", Reason: `SPIFFE ID "spiffe://example.org/ns/agents/agent-b" matches allow.spiffe_ids[1] "spiffe://example.org/ns/*"`},
		},
		{
			name:   "allow.spiffe_ids prefix does not cover its own path",
			policy: `allow: {spiffe_ids: ["spiffe://example.org/ns/agents/agent-b/*"]}`,
			input:  spiffeInput,
			want:   policy.Decision{Rule: "allow.spiffe_ids", Reason: `SPIFFE ID "spiffe://example.org/ns/agents/agent-b" matches nothing in allow.spiffe_ids [spiffe://example.org/ns/agents/agent-b/*]`},
		},
		{
			name:   "allow.spiffe_ids prefix stops at a segment boundary",
			policy: `allow: {spiffe_ids: ["spiffe://example.org/ns/agent/*"]}`,
			input:  spiffeInput,
			want:   policy.Decision{Rule: "allow.spiffe_ids", Reason: `SPIFFE ID "spiffe://example.org/ns/agents/agent-b" matches nothing in allow.spiffe_ids [spiffe://example.org/ns/agent/*]`},
		},
		{
			name:   "allow.spiffe_ids prefix in another trust domain",
			policy: `allow: {spiffe_ids: ["spiffe://other.org/ns/*"]}`,
			input:  spiffeInput,
			want:   policy.Decision{Rule: "allow.spiffe_ids", Reason: `SPIFFE ID "spiffe://example.org/ns/agents/agent-b" matches nothing in allow.spiffe_ids [spiffe://other.org/ns/*]`},
		},
		{
			name:   "allow.spiffe_ids trust domain wildcard",
			policy: `allow: {spiffe_ids: ["spiffe://example.org/*"]}`,
			input:  spiffeInput,
			want:   policy.Decision{Allowed: true, Rule: "allow", Reason: `SPIFFE ID "spiffe://example.org/ns/agents/agent-b" matches allow.spiffe_ids[0] "spiffe://example.org/*"`},
		},
		{
			name:   "allow.spiffe_ids refuses a subject that is not a SPIFFE ID",
			policy: `allow: {spiffe_ids: ["spiffe://example.org/*"]}`,
			input:  sharedSecretInput,
			want:   policy.Decision{Rule: "allow.spiffe_ids", Reason: `subject "org/ns/alice_Ab3dE9xQ" is not a SPIFFE ID, and allow.spiffe_ids admits only SPIFFE IDs`},
		},
		{
			name:   "allow.spiffe_ids refuses a malformed SPIFFE ID",
			policy: `allow: {spiffe_ids: ["spiffe://example.org/*"]}`,
			input:  spiffeInput,
			edit:   func(in *policy.Input) { in.Identity.Subject = "spiffe://example.org/ns/../admin" },
			want:   policy.Decision{Rule: "allow.spiffe_ids", Reason: `subject "spiffe://example.org/ns/../admin" is not a SPIFFE ID, and allow.spiffe_ids admits only SPIFFE IDs`},
		},
		{
			name:   "allow.trust_domains in",
			policy: `allow: {trust_domains: [other.org, "spiffe://example.org"]}`,
			input:  spiffeInput,
			want:   policy.Decision{Allowed: true, Rule: "allow", Reason: `trust domain "example.org" is in allow.trust_domains`},
		},
		{
			name:   "allow.trust_domains out",
			policy: `allow: {trust_domains: [example.org]}`,
			input:  spiffeInput,
			edit:   func(in *policy.Input) { in.Identity.Subject = "spiffe://evil.org/agent" },
			want:   policy.Decision{Rule: "allow.trust_domains", Reason: `trust domain "evil.org" is not in allow.trust_domains [example.org]`},
		},
		{
			name:   "allow.trust_domains refuses a subject that is not a SPIFFE ID",
			policy: `allow: {trust_domains: [example.org]}`,
			input:  sharedSecretInput,
			want:   policy.Decision{Rule: "allow.trust_domains", Reason: `subject "org/ns/alice_Ab3dE9xQ" is not a SPIFFE ID, so it has no trust domain for allow.trust_domains [example.org]`},
		},
		{
			name:   "allow.subjects match",
			policy: `allow: {subjects: ['^org/ns/carol_.*$', '^org/ns/(alice|bob)_[A-Za-z0-9]{8}$']}`,
			input:  sharedSecretInput,
			want:   policy.Decision{Allowed: true, Rule: "allow", Reason: `subject "org/ns/alice_Ab3dE9xQ" matches allow.subjects[1] '^org/ns/(alice|bob)_[A-Za-z0-9]{8}$'`},
		},
		{
			name:   "allow.subjects must match the whole subject",
			policy: `allow: {subjects: ['alice', 'org/ns/alice|nobody']}`,
			input:  sharedSecretInput,
			want:   policy.Decision{Rule: "allow.subjects", Reason: `subject "org/ns/alice_Ab3dE9xQ" matches nothing in allow.subjects ['alice' 'org/ns/alice|nobody']`},
		},
		{
			name:   "allow.issuers in",
			policy: `allow: {issuers: [spiffe://example.org]}`,
			input:  spiffeInput,
			want:   policy.Decision{Allowed: true, Rule: "allow", Reason: `issuer "spiffe://example.org" is in allow.issuers`},
		},
		{
			name:   "allow.issuers out",
			policy: `allow: {issuers: [https://idp.example.com]}`,
			input:  spiffeInput,
			want:   policy.Decision{Rule: "allow.issuers", Reason: `issuer "spiffe://example.org" is not in allow.issuers [https://idp.example.com]`},
		},
		{
			name:   "allow.claims string",
			policy: `allow: {claims: {team: [b, a]}}`,
			input:  sharedSecretInput,
			want:   policy.Decision{Allowed: true, Rule: "allow", Reason: `claim "team" value "a" is in allow.claims.team`},
		},
		{
			name:   "allow.claims list element",
			policy: `allow: {claims: {groups: [admins]}}`,
			input:  sharedSecretInput,
			edit:   func(in *policy.Input) { in.Identity.Claims["groups"] = []any{"staff", "admins"} },
			want:   policy.Decision{Allowed: true, Rule: "allow", Reason: `claim "groups" value "admins" is in allow.claims.groups`},
		},
		{
			name:   "allow.claims number compared as text",
			policy: `allow: {claims: {level: ["3"]}}`,
			input:  sharedSecretInput,
			edit:   func(in *policy.Input) { in.Identity.Claims["level"] = float64(3) },
			want:   policy.Decision{Allowed: true, Rule: "allow", Reason: `claim "level" value "3" is in allow.claims.level`},
		},
		{
			name:   "allow.claims value not listed",
			policy: `allow: {claims: {team: [b, c]}}`,
			input:  sharedSecretInput,
			want:   policy.Decision{Rule: "allow.claims.team", Reason: `claim "team" is "a", not in allow.claims.team [b c]`},
		},
		{
			name:   "allow.claims missing",
			policy: `allow: {claims: {team: [a], role: [admin]}}`,
			input:  sharedSecretInput,
			want:   policy.Decision{Rule: "allow.claims.role", Reason: `claim "role" is missing, and allow.claims.role [admin] requires one of its values`},
		},
		{
			name:   "allow.claims list without a listed element",
			policy: `allow: {claims: {groups: [admins]}}`,
			input:  sharedSecretInput,
			edit:   func(in *policy.Input) { in.Identity.Claims["groups"] = []any{"staff"} },
			want:   policy.Decision{Rule: "allow.claims.groups", Reason: `claim "groups" has no element in allow.claims.groups [admins]`},
		},
		{
			name:   "allow.claims object",
			policy: `allow: {claims: {team: [a]}}`,
			input:  sharedSecretInput,
			edit:   func(in *policy.Input) { in.Identity.Claims["team"] = map[string]any{"name": "a"} },
			want:   policy.Decision{Rule: "allow.claims.team", Reason: `claim "team" is not a string, number or boolean, so it cannot match allow.claims.team [a]`},
		},
		{
			name:   "allow.cel true",
			policy: `allow: {cel: 'identity.claims.team == "a" && group.size < 100'}`,
			input:  sharedSecretInput,
			want:   policy.Decision{Allowed: true, Rule: "allow", Reason: `cel: identity.claims.team == "a" && group.size < 100 is true`},
		},
		{
			name:   "allow.cel false",
			policy: `allow: {cel: 'identity.claims.team == "a"'}`,
			input:  sharedSecretInput,
			edit:   func(in *policy.Input) { in.Identity.Claims["team"] = "b" },
			want:   policy.Decision{Rule: "allow.cel", Reason: `cel: identity.claims.team == "a" is false for this identity`},
		},
		{
			name:   "allow.cel on several lines is shown on one",
			policy: "allow:\n  cel: |\n    identity.claims.team == \"a\" &&\n      group.size < 3\n",
			input:  sharedSecretInput,
			want:   policy.Decision{Rule: "allow.cel", Reason: `cel: identity.claims.team == "a" && group.size < 3 is false for this identity`},
		},
		{
			name:   "allow.cel missing claim refuses",
			policy: `allow: {cel: 'identity.claims.role == "admin"'}`,
			input:  sharedSecretInput,
			want:   policy.Decision{Rule: "allow.cel", Reason: `cel: identity.claims.role == "admin" failed for this identity: no such key: role`},
		},
		{
			name:   "allow.cel claim of another type refuses",
			policy: `allow: {cel: 'identity.claims.team > 3'}`,
			input:  sharedSecretInput,
			want:   policy.Decision{Rule: "allow.cel", Reason: `cel: identity.claims.team > 3 failed for this identity: no such overload`},
		},
		{
			name:   "allow.cel yielding a claim that is not a boolean refuses",
			policy: `allow: {cel: 'identity.claims.team'}`,
			input:  sharedSecretInput,
			want:   policy.Decision{Rule: "allow.cel", Reason: `cel: identity.claims.team yields string, not true or false, for this identity`},
		},
		{
			name:   "allow.cel with no claims at all refuses",
			policy: `allow: {cel: 'identity.claims.team == "a"'}`,
			input:  spiffeInput,
			want:   policy.Decision{Rule: "allow.cel", Reason: `cel: identity.claims.team == "a" failed for this identity: no such key: team`},
		},
		{
			name:   "allow conditions all hold",
			policy: "allow:\n  trust_domains: [example.org]\n  subjects: ['^spiffe://example\\.org/ns/agents/.*$']\n  cel: group.epoch == 7\n",
			input:  spiffeInput,
			want: policy.Decision{Allowed: true, Rule: "allow", Reason: `trust domain "example.org" is in allow.trust_domains; ` +
				`subject "spiffe://example.org/ns/agents/agent-b" matches allow.subjects[0] '^spiffe://example\.org/ns/agents/.*$'; ` +
				`cel: group.epoch == 7 is true`},
		},
		{
			name:   "allow conditions: the first that fails decides",
			policy: "allow:\n  trust_domains: [example.org]\n  subjects: ['^spiffe://example\\.org/ns/other/.*$']\n  cel: group.epoch == 8\n",
			input:  spiffeInput,
			want:   policy.Decision{Rule: "allow.subjects", Reason: `subject "spiffe://example.org/ns/agents/agent-b" matches nothing in allow.subjects ['^spiffe://example\.org/ns/other/.*$']`},
		},
		{
			name:   "deny.spiffe_ids",
			policy: `deny: {spiffe_ids: [spiffe://example.org/agent-a, "spiffe://example.org/ns/agents/*"]}`,
			input:  spiffeInput,
			want:   policy.Decision{Rule: "deny.spiffe_ids[1]", Reason: `SPIFFE ID "spiffe://example.org/ns/agents/agent-b" matches deny.spiffe_ids[1] "spiffe://example.org/ns/agents/*"`},
		},
		{
			name:   "deny.trust_domains",
			policy: `deny: {trust_domains: [evil.org]}`,
			input:  spiffeInput,
			edit:   func(in *policy.Input) { in.Identity.Subject = "spiffe://evil.org/agent" },
			want:   policy.Decision{Rule: "deny.trust_domains[0]", Reason: `trust domain "evil.org" matches deny.trust_domains[0]`},
		},
		{
			name:   "deny.subjects",
			policy: `deny: {subjects: ['^org/ns/mallory_.*$']}`,
			input:  sharedSecretInput,
			edit:   func(in *policy.Input) { in.Identity.Subject = "org/ns/mallory_x1" },
			want:   policy.Decision{Rule: "deny.subjects[0]", Reason: `subject "org/ns/mallory_x1" matches deny.subjects[0] '^org/ns/mallory_.*$'`},
		},
		{
			name:   "deny.subjects not matching admits",
			policy: `deny: {subjects: ['^org/ns/mallory_.*$']}`,
			input:  sharedSecretInput,
			want:   policy.Decision{Allowed: true, Rule: "default", Reason: "the policy has no allow conditions, so any verified identity is admitted"},
		},
		{
			name:   "deny.issuers",
			policy: `deny: {issuers: [spiffe://example.org]}`,
			input:  spiffeInput,
			want:   policy.Decision{Rule: "deny.issuers[0]", Reason: `issuer "spiffe://example.org" matches deny.issuers[0]`},
		},
		{
			name:   "deny.claims boolean",
			policy: `deny: {claims: {suspended: ["true"]}}`,
			input:  sharedSecretInput,
			edit:   func(in *policy.Input) { in.Identity.Claims["suspended"] = true },
			want:   policy.Decision{Rule: "deny.claims.suspended", Reason: `claim "suspended" value "true" matches deny.claims.suspended [true]`},
		},
		{
			name:   "deny.claims absent claim does not deny",
			policy: `deny: {claims: {suspended: ["true"]}}`,
			input:  sharedSecretInput,
			want:   policy.Decision{Allowed: true, Rule: "default", Reason: "the policy has no allow conditions, so any verified identity is admitted"},
		},
		{
			name:   "deny.cel true",
			policy: `deny: {cel: 'identity.subject.startsWith("org/ns/alice")'}`,
			input:  sharedSecretInput,
			want:   policy.Decision{Rule: "deny.cel", Reason: `cel: identity.subject.startsWith("org/ns/alice") is true for this identity`},
		},
		{
			name:   "deny.cel false admits",
			policy: `deny: {cel: 'identity.subject.startsWith("org/ns/mallory")'}`,
			input:  sharedSecretInput,
			want:   policy.Decision{Allowed: true, Rule: "default", Reason: "the policy has no allow conditions, so any verified identity is admitted"},
		},
		{
			name:   "deny.cel that fails refuses",
			policy: `deny: {cel: 'identity.claims.banned == true'}`,
			input:  sharedSecretInput,
			want:   policy.Decision{Rule: "deny.cel", Reason: `cel: identity.claims.banned == true failed for this identity: no such key: banned`},
		},
		{
			name:   "deny beats allow",
			policy: "allow:\n  subjects: ['^org/ns/.*$']\ndeny:\n  subjects: ['^org/ns/alice_.*$']\n",
			input:  sharedSecretInput,
			want:   policy.Decision{Rule: "deny.subjects[0]", Reason: `subject "org/ns/alice_Ab3dE9xQ" matches deny.subjects[0] '^org/ns/alice_.*$'`},
		},
		{
			name:   "deny is reported before any other refusal",
			policy: "providers: [spire]\nmax_members: 1\ndeny:\n  subjects: ['^org/ns/alice_.*$']\n",
			input:  sharedSecretInput,
			want:   policy.Decision{Rule: "deny.subjects[0]", Reason: `subject "org/ns/alice_Ab3dE9xQ" matches deny.subjects[0] '^org/ns/alice_.*$'`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.policy)
			in := tt.input()
			if tt.edit != nil {
				tt.edit(&in)
			}
			checkDecision(t, p.Evaluate(in), tt.want)
		})
	}
}
