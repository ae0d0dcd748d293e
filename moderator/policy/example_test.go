package policy_test

import (
	"fmt"
	"time"

	"github.com/slimid/slimid/moderator/policy"
	"github.com/slimid/slimid/sdk"
)

// A team group for SLIM shared-secret identities: alice and bob are
// admitted, mallory never, and the group holds at most ten members.
func Example() {
	p, err := policy.Parse([]byte(`
providers: [team]
allow:
  subjects: ['^org/ns/(alice|bob)_[A-Za-z0-9]{8}$']
  cel: 'group.size < 10 && now - identity.issued_at < duration("5m")'
deny:
  subjects: ['^org/ns/mallory_.*$']
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for _, subject := range []string{"org/ns/alice_Ab3dE9xQ", "org/ns/mallory_x1", "org/ns/carol_Zz9yY8xW"} {
		d := p.Evaluate(policy.Input{
			Identity: sdk.Identity{
				Subject:   subject,
				IssuedAt:  now.Add(-time.Second),
				ExpiresAt: now.Add(time.Hour),
				Provider:  "team",
			},
			CredentialType: policy.CredentialBasic,
			Group:          policy.Group{Name: "org/ns/chat", Size: 4, Epoch: 9},
			Now:            now,
		})
		fmt.Println(d.Allowed, d.Rule)
		fmt.Println(" ", d.Reason)
	}
	// Output:
	// true allow
	//   subject "org/ns/alice_Ab3dE9xQ" matches allow.subjects[0] '^org/ns/(alice|bob)_[A-Za-z0-9]{8}$'; cel: group.size < 10 && now - identity.issued_at < duration("5m") is true
	// false deny.subjects[0]
	//   subject "org/ns/mallory_x1" matches deny.subjects[0] '^org/ns/mallory_.*$'
	// false allow.subjects
	//   subject "org/ns/carol_Zz9yY8xW" matches nothing in allow.subjects ['^org/ns/(alice|bob)_[A-Za-z0-9]{8}$']
}

// A group with no policy file admits every verified identity, and says so.
func ExampleDefault() {
	p := policy.Default()
	fmt.Println(p.Notes()[0])
	d := p.Evaluate(policy.Input{
		Identity: sdk.Identity{Subject: "spiffe://example.org/agent-a"},
		Now:      time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC),
	})
	fmt.Println(d)
	// Output:
	// no allow conditions: any verified identity is admitted unless deny, providers, credential_types, max_members or min_remaining_validity refuses it
	// admitted by default: the policy has no allow conditions, so any verified identity is admitted
}

// Mistakes are found at load, with the key and the place.
func ExampleParse_errors() {
	for _, doc := range []string{
		"allow:\n  trust_domain: [example.org]\n",
		"allow:\n  cel: identity.claims.team == 'a' && group.sise < 100\n",
		"deny:\n  spiffe_ids: ['spiffe://example.org/*/db']\n",
	} {
		_, err := policy.Parse([]byte(doc))
		fmt.Println(err)
	}
	// Output:
	// policy: unknown key "trust_domain" at allow (line 2)
	// policy: allow.cel: undefined field 'sise' at column 37: identity.claims.team == 'a' && group.sise < 100
	// policy: deny.spiffe_ids[0]: "spiffe://example.org/*/db" has a * that is not a whole last segment; write an exact ID or a prefix like spiffe://example.org/ns/*
}

// A CEL condition that cannot be evaluated for an identity refuses it.
func ExamplePolicy_Evaluate() {
	p, err := policy.Parse([]byte(`allow: {cel: 'identity.claims.team == "a"'}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	d := p.Evaluate(policy.Input{
		Identity: sdk.Identity{Subject: "spiffe://example.org/agent-a", Claims: map[string]any{}},
		Now:      time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC),
	})
	fmt.Println(d)
	// Output:
	// refused by allow.cel: cel: identity.claims.team == "a" failed for this identity: no such key: team
}
