package main_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/slimid/slimid/plugins/spire/spiretest"
)

// The SPIRE plugin through the CLI, against a real SPIRE server and agent:
// token prints a JWT-SVID, verify accepts it for its audience with the
// SPIFFE ID as subject, and refuses it for another audience.
func TestSPIRETokenAndVerify(t *testing.T) {
	env := spiretest.Start(t, spiretest.Options{})
	cfg := writeConfig(t, t.TempDir(), fmt.Sprintf("plugins:\n  - name: spire\n    type: spire\n    config: {socket_path: %q, jwt_audiences: [\"slim\"]}\n", env.WorkloadAPIAddr))

	tok, stderr, code := run(t, nil, "", "token", "--config", cfg, "--plugin", "spire", "--audience", "slim")
	if code != 0 || strings.Count(tok, ".") != 2 {
		t.Fatalf("token: exit %d, %q, %s", code, tok, stderr)
	}
	out, stderr, code := run(t, nil, tok, "verify", "--config", cfg, "--plugin", "spire", "--audience", "slim")
	if code != 0 {
		t.Fatalf("verify: exit %d: %s", code, stderr)
	}
	var id struct {
		Subject   string   `json:"subject"`
		Audiences []string `json:"audiences"`
		Provider  string   `json:"provider"`
	}
	if err := json.Unmarshal([]byte(out), &id); err != nil {
		t.Fatal(err)
	}
	if id.Subject != env.WorkloadID || id.Provider != "spire" || len(id.Audiences) != 1 || id.Audiences[0] != "slim" {
		t.Fatalf("identity = %+v; want subject %s for audience slim", id, env.WorkloadID)
	}
	_, stderr, code = run(t, nil, tok, "verify", "--config", cfg, "--plugin", "spire", "--audience", "other")
	if code != 1 || !strings.Contains(stderr, "audience") {
		t.Fatalf("verify --audience other: exit %d, %q; want 1 with an audience reason", code, stderr)
	}
	t.Logf("refused: %s", strings.TrimSpace(stderr))
}
