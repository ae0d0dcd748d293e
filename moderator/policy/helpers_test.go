package policy_test

import (
	"os"
	"testing"
	"time"

	"github.com/slimid/slimid/moderator/policy"
	"github.com/slimid/slimid/sdk"
)

// now is the admission time of every test.
var now = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// sharedSecretInput is alice with a SLIM shared-secret token.
func sharedSecretInput() policy.Input {
	return policy.Input{
		Identity: sdk.Identity{
			Subject:   "org/ns/alice_Ab3dE9xQ",
			IssuedAt:  now.Add(-time.Minute),
			ExpiresAt: now.Add(59 * time.Minute),
			PublicKey: []byte{1, 2, 3},
			Claims:    map[string]any{"sub": "org/ns/alice_Ab3dE9xQ", "team": "a"},
			Provider:  "team",
		},
		CredentialType: policy.CredentialBasic,
		Group:          policy.Group{Name: "org/ns/chat", Size: 3, Epoch: 7},
		Now:            now,
	}
}

// spiffeInput is an agent with an X.509-SVID.
func spiffeInput() policy.Input {
	return policy.Input{
		Identity: sdk.Identity{
			Subject:   "spiffe://example.org/ns/agents/agent-b",
			Issuer:    "spiffe://example.org",
			IssuedAt:  now.Add(-time.Minute),
			ExpiresAt: now.Add(time.Hour),
			PublicKey: []byte{4, 5, 6},
			Provider:  "spire",
		},
		CredentialType: policy.CredentialX509,
		Group:          policy.Group{Name: "org/ns/chat", Size: 3, Epoch: 7},
		Now:            now,
	}
}

func mustParse(t testing.TB, src string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func mustLoad(t testing.TB, path string) *policy.Policy {
	t.Helper()
	p, err := policy.Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p
}

func checkDecision(t *testing.T, got, want policy.Decision) {
	t.Helper()
	if got != want {
		t.Errorf("decision:\n got  %+v\n want %+v", got, want)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
