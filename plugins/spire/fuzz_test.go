package spire

import (
	"errors"
	"strings"
	"testing"

	"github.com/slimid/slimid/sdk"
)

// FuzzConfig: any configuration is accepted whole or refused with a
// one-line configuration error; an accepted one is usable.
func FuzzConfig(f *testing.F) {
	for _, seed := range []string{
		"socket_path: unix:///run/spire/agent.sock\njwt_audiences: [slim]\n",
		`{socket_path: "unix:/a.sock", jwt_audiences: ["slim", "b"], leeway: 5s}`,
		"target_spiffe_id: spiffe://example.org/a\n",
		"jwt_audiences: []\n",
		"socket_path: unix://host/x\n",
	} {
		f.Add([]byte(seed))
	}
	env := func(string) string { return "unix:///env.sock" }
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, _, err := parseConfig(raw, env)
		if err != nil {
			if !errors.Is(err, sdk.ErrInvalidConfig) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q is not a one-line configuration error", err)
			}
			return
		}
		if !strings.HasPrefix(s.addr, "unix:///") || len(s.audiences) == 0 || s.leeway < 0 || s.leeway > MaxLeeway {
			t.Fatalf("accepted an unusable configuration: %+v", s)
		}
		if again, err := normalizeSocket(s.addr); err != nil || again != s.addr {
			t.Fatalf("normalized address %q does not normalize to itself: %q, %v", s.addr, again, err)
		}
	})
}
