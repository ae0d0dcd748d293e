package policy_test

import (
	"fmt"
	"testing"

	"github.com/slimid/slimid/moderator/policy"
)

// BenchmarkEvaluate measures one admission decision. typical.yaml holds two
// providers, a deny regex, two allow regexes and one CEL expression.
func BenchmarkEvaluate(b *testing.B) {
	typical := mustLoad(b, "testdata/typical.yaml")
	mallory := sharedSecretInput()
	mallory.Identity.Subject = "org/ns/mallory_Ab3dE9xQ"
	cases := []struct {
		name   string
		policy *policy.Policy
		input  policy.Input
		allow  bool
	}{
		{name: "typical/admitted", policy: typical, input: sharedSecretInput(), allow: true},
		{name: "typical/denied", policy: typical, input: mallory},
		{name: "spiffe_only/admitted", policy: mustLoad(b, "testdata/spiffe_only.yaml"), input: spiffeInput(), allow: true},
		{name: "jwt_claims/admitted", policy: mustLoad(b, "testdata/jwt_claims.yaml"), input: jwtInput(), allow: true},
		{name: "default/admitted", policy: policy.Default(), input: sharedSecretInput(), allow: true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if d := c.policy.Evaluate(c.input); d.Allowed != c.allow {
				b.Fatalf("unexpected decision: %v", d)
			}
			b.ReportAllocs()
			for b.Loop() {
				c.policy.Evaluate(c.input)
			}
		})
	}
}

// BenchmarkAdmit1000 decides the admission of 1000 distinct members into a
// growing group with the typical policy: one op is the whole group.
func BenchmarkAdmit1000(b *testing.B) {
	p := mustLoad(b, "testdata/typical.yaml")
	inputs := make([]policy.Input, 1000)
	for i := range inputs {
		in := sharedSecretInput()
		in.Identity.Subject = fmt.Sprintf("org/ns/%s_%08d", []string{"alice", "bob", "carol"}[i%3], i)
		in.Group.Size = i
		inputs[i] = in
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range inputs {
			if d := p.Evaluate(inputs[i]); !d.Allowed {
				b.Fatalf("member %d refused: %v", i, d)
			}
		}
	}
}

// BenchmarkEvaluateAtCostLimit is the worst a CEL expression can cost: a
// claim far larger than the load-time estimate assumes runs into MaxCELCost.
func BenchmarkEvaluateAtCostLimit(b *testing.B) {
	p := mustParse(b, `allow: {cel: 'identity.claims.groups.exists(g, g == "admins")'}`)
	in := sharedSecretInput()
	groups := make([]any, 100_000)
	for i := range groups {
		groups[i] = fmt.Sprint(i)
	}
	in.Identity.Claims["groups"] = groups
	if d := p.Evaluate(in); d.Allowed {
		b.Fatalf("unexpected decision: %v", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Evaluate(in)
	}
}
