package sdktest

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// checkSnapshot checks that every published key set names itself and holds a
// JWKS document.
func checkSnapshot(t *testing.T, snap sdk.KeySnapshot) {
	t.Helper()
	if len(snap.KeySets) == 0 {
		t.Fatal("WatchKeys published no key set")
	}
	for _, ks := range snap.KeySets {
		if ks.Name == "" {
			t.Fatal("a published key set has no name")
		}
		var doc struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(ks.JWKS, &doc); err != nil {
			t.Fatalf("key set %q: JWKS is not JSON: %v", ks.Name, err)
		}
	}
}

// checkLocalAgrees verifies token with the published keys, as the broker
// does in process, and requires the same identity as the plugin's own
// Verify: a plugin must never publish keys and rules that judge differently
// from itself.
func checkLocalAgrees(t *testing.T, c *sdk.Client, snap sdk.KeySnapshot, token string, audiences []string) {
	t.Helper()
	v, err := jwtverify.New(snap)
	if err != nil {
		t.Fatalf("published keys do not compile: %v", err)
	}
	now := time.Now()
	local, lerr := v.Verify(token, audiences, now)
	if errors.Is(lerr, jwtverify.ErrUndecided) {
		return // not a token these keys judge; the broker asks the plugin
	}
	remote, rerr := c.Verify(t.Context(), sdk.VerifyRequest{Token: token, Audiences: audiences, At: now})
	if (lerr == nil) != (rerr == nil) {
		t.Fatalf("published keys say %v; the plugin says %v", lerr, rerr)
	}
	if lerr != nil {
		return
	}
	remote.Provider = local.Provider
	if local.Subject != remote.Subject || local.Issuer != remote.Issuer ||
		!slices.Equal(local.Audiences, remote.Audiences) || string(local.PublicKey) != string(remote.PublicKey) ||
		!local.ExpiresAt.Equal(remote.ExpiresAt) || !local.IssuedAt.Equal(remote.IssuedAt) {
		t.Fatalf("published keys give %+v; the plugin gives %+v", local, remote)
	}
}
