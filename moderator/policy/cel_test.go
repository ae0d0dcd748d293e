package policy_test

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"testing"

	"github.com/slimid/slimid/moderator/policy"
)

// TestCELVariables checks every variable the CEL environment declares
// against the Input it came from.
func TestCELVariables(t *testing.T) {
	agent := func() policy.Input {
		in := spiffeInput()
		in.Identity.Audiences = []string{"slim", "other"}
		in.Identity.Claims = map[string]any{"level": float64(3), "nested": map[string]any{"list": []any{"a", float64(2)}}}
		return in
	}
	tests := []struct {
		name  string
		expr  string
		input func() policy.Input
		edit  func(*policy.Input)
	}{
		{name: "subject", expr: `identity.subject == "spiffe://example.org/ns/agents/agent-b"`, input: agent},
		{name: "issuer", expr: `identity.issuer == "spiffe://example.org"`, input: agent},
		{name: "audiences", expr: `identity.audiences == ["slim", "other"]`, input: agent},
		{name: "provider", expr: `identity.provider == "spire"`, input: agent},
		{name: "credential_type", expr: `identity.credential_type == "x509"`, input: agent},
		{name: "spiffe_id", expr: `identity.spiffe_id == "spiffe://example.org/ns/agents/agent-b"`, input: agent},
		{name: "trust_domain", expr: `identity.trust_domain == "example.org"`, input: agent},
		{name: "expires_at", expr: `identity.expires_at == timestamp("2026-12-04T13:00:00Z")`, input: agent},
		{name: "issued_at", expr: `identity.issued_at == timestamp("2026-12-04T11:59:00Z")`, input: agent},
		{name: "public_key", expr: `identity.public_key == b"\x04\x05\x06"`, input: agent},
		{name: "numeric claim", expr: `identity.claims.level == 3`, input: agent},
		{name: "nested claim", expr: `identity.claims.nested.list[1] == 2.0 && identity.claims.nested.list[0] == "a"`, input: agent},
		{name: "has claim", expr: `has(identity.claims.level) && !has(identity.claims.team)`, input: agent},
		{name: "optional claim", expr: `identity.claims.?team.orValue("none") == "none"`, input: agent},
		{name: "group", expr: `group.name == "org/ns/chat" && group.size == 3 && group.epoch == 7`, input: agent},
		{name: "now", expr: `now == timestamp("2026-12-04T12:00:00Z") && identity.expires_at - now == duration("1h")`, input: agent},
		{name: "string extensions", expr: `identity.subject.split("/").size() == 6 && identity.provider.upperAscii() == "SPIRE"`, input: agent},
		{name: "no SPIFFE ID for a shared-secret subject", expr: `identity.spiffe_id == "" && identity.trust_domain == ""`, input: sharedSecretInput},
		{name: "no claims is an empty map", expr: `identity.claims.size() == 0`, input: spiffeInput},
		{name: "no audiences is an empty list", expr: `identity.audiences.size() == 0`, input: spiffeInput},
		{name: "basic credential", expr: `identity.credential_type == "basic"`, input: sharedSecretInput},
		{
			name:  "epoch beyond int64",
			expr:  `group.epoch == 9223372036854775807`,
			input: agent,
			edit:  func(in *policy.Input) { in.Group.Epoch = math.MaxUint64 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, "allow:\n  cel: '"+tt.expr+"'\n")
			in := tt.input()
			if tt.edit != nil {
				tt.edit(&in)
			}
			checkDecision(t, p.Evaluate(in), policy.Decision{Allowed: true, Rule: "allow", Reason: "cel: " + tt.expr + " is true"})
		})
	}
}

func TestCELCostLimit(t *testing.T) {
	t.Run("refused at load", func(t *testing.T) {
		_, err := policy.Parse([]byte("allow:\n  cel: identity.claims.x.exists(a, identity.claims.y.exists(b, a == b))\n"))
		want := "policy: allow.cel: identity.claims.x.exists(a, identity.claims.y.exists(b, a == b)) may cost up to 2099204, " +
			"more than the limit of 100000 (with claim lists of 256 items); avoid nesting comprehensions"
		if err == nil || err.Error() != want {
			t.Errorf("error:\n got  %v\n want %s", err, want)
		}
	})

	// A single pass over a claim is accepted at load, but a claim far
	// larger than the estimate assumes stops at the limit.
	huge := make([]any, 100_000)
	for i := range huge {
		huge[i] = strconv.Itoa(i)
	}
	tests := []struct {
		name   string
		policy string
		want   policy.Decision
	}{
		{
			name:   "allow refuses at evaluation",
			policy: `allow: {cel: 'identity.claims.groups.exists(g, g == "admins")'}`,
			want:   policy.Decision{Rule: "allow.cel", Reason: `cel: identity.claims.groups.exists(g, g == "admins") exceeds the cost limit of 100000 for this identity`},
		},
		{
			name:   "deny refuses at evaluation",
			policy: `deny: {cel: 'identity.claims.groups.exists(g, g == "banned")'}`,
			want:   policy.Decision{Rule: "deny.cel", Reason: `cel: identity.claims.groups.exists(g, g == "banned") exceeds the cost limit of 100000 for this identity`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.policy)
			in := sharedSecretInput()
			in.Identity.Claims["groups"] = huge
			checkDecision(t, p.Evaluate(in), tt.want)

			in.Identity.Claims["groups"] = []any{"staff"}
			if d := p.Evaluate(in); d.Rule == tt.want.Rule && d.Reason == tt.want.Reason {
				t.Errorf("a small claim also hit the limit: %v", d)
			}
		})
	}
}

func TestConcurrentEvaluate(t *testing.T) {
	p := mustLoad(t, "testdata/typical.yaml")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				in := sharedSecretInput()
				in.Identity.Subject = fmt.Sprintf("org/ns/%s_Ab3dE9xQ", []string{"alice", "mallory"}[(w+i)%2])
				d := p.Evaluate(in)
				if want := (w+i)%2 == 0; d.Allowed != want {
					errs <- fmt.Errorf("%s: %v", in.Identity.Subject, d)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
