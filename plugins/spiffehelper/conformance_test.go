package spiffehelper_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slimid/slimid/plugins/spiffehelper"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/sdktest"
)

// fixtureKey is the MLS key the conformance fixture's JWT-SVID binds
// through its slim-claims audience, as a spiffe-helper jwt_audience can.
var fixtureKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)).Public().(ed25519.PublicKey)

// writeFixture writes a complete cert_dir into dir and returns the
// authority that signed it.
func writeFixture(t testing.TB, dir string) *authority {
	t.Helper()
	a := newAuthority(t, "example.org")
	svid := a.svid(t, "/workload")
	for name, data := range map[string][]byte{
		"key.jwt":         keyJWT(t, a),
		"jwt_svid.token":  []byte(a.sign(t, svidClaims{pubkey: fixtureKey})),
		"tls.crt":         svid.cert,
		"tls.key":         svid.key,
		"svid_bundle.pem": svid.bundle,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
	}
	return a
}

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	a := writeFixture(t, dir)
	other := newAuthority(t, "other.org")
	forger := newAuthority(t, "example.org")
	suite := sdktest.Suite{
		NewPlugin:      func() sdk.Plugin { return spiffehelper.New(spiffehelper.WithRegisterer(nil)) },
		Binary:         "github.com/slimid/slimid/cmd/slimid-plugin-spiffehelper",
		Config:         fmt.Appendf(nil, "cert_dir: %s\njwt_audiences: [slim-demo]\n", dir),
		Audiences:      []string{"slim-demo"},
		ChecksAudience: true,
		// The kit must ask for the key the fixture token binds: a token
		// written by spiffe-helper cannot bind a key chosen at run time.
		PublicKey: fixtureKey,
		InvalidConfigs: []sdktest.InvalidConfig{
			{Name: "unknown key", Config: []byte("cert_dir: /svids\njwt_audiences: [a]\njwt_audience: a\n"), Want: `unknown key "jwt_audience" at the top level (line 3)`},
			{Name: "no cert_dir", Config: []byte("jwt_audiences: [a]\n"), Want: "cert_dir is required"},
			{Name: "no audiences", Config: []byte("cert_dir: /svids\n"), Want: "jwt_audiences is required"},
		},
		Rejected: []sdktest.RejectedToken{
			{Name: "expired", Reason: sdk.ErrExpired, Token: func(t testing.TB) string {
				return a.sign(t, svidClaims{issuedAt: time.Now().Add(-2 * time.Hour), expiresAt: time.Now().Add(-time.Hour)})
			}},
			{Name: "trust domain not in key.jwt", Reason: sdk.ErrUntrusted, Token: func(t testing.TB) string {
				return other.sign(t, svidClaims{})
			}},
			{Name: "known kid, other key", Reason: sdk.ErrInvalid, Token: func(t testing.TB) string {
				return forger.sign(t, svidClaims{})
			}},
		},
	}
	sdktest.Run(t, suite)
}
