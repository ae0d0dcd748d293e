package jwtverify_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, and
// every outcome is an accept with a subject, a one-line verdict, or
// ErrUndecided. Seeds in testdata/fuzz/FuzzVerify are tokens signed with the
// keys below (valid, attacks and near misses).
func FuzzVerify(f *testing.F) {
	v := fuzzVerifier(f)
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(token, nil, now)
		if err == nil {
			if id.Subject == "" || id.ExpiresAt.IsZero() {
				t.Fatalf("accepted without a subject or expiry: %+v", id)
			}
			return
		}
		if !errors.Is(err, sdk.ErrRejected) && !errors.Is(err, jwtverify.ErrUndecided) {
			t.Fatalf("error is neither a verdict nor undecided: %v", err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("error spans several lines: %q", err)
		}
	})
}

// fuzzVerifier trusts the deterministic keys the seed tokens are signed with.
func fuzzVerifier(tb testing.TB) *jwtverify.Verifier {
	ed := newKey(tb, jwa.EdDSA, "fuzz-ed")
	hs := newKey(tb, jwa.HS256, "fuzz-hs")
	v, err := jwtverify.New(sdk.KeySnapshot{KeySets: []sdk.KeySet{
		{Name: "corp", JWKS: jwks(tb, ed.jwk(tb, false), hs.jwk(tb, true)), Rules: sdk.ClaimRules{
			Issuers: []string{"corp-issuer"}, Audiences: []string{"slim"}, SlimClaimsAudience: true,
			RequiredClaims: []sdk.ClaimCondition{{Claim: "team", AnyOf: []string{"a"}}},
		}},
		{Name: "example.org", JWKS: jwks(tb, ed.jwk(tb, false)), Rules: sdk.ClaimRules{SPIFFETrustDomain: "example.org", RequireKID: true, Audiences: []string{"slim"}}},
	}})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// TestFuzzSeedsStillValid keeps the seed corpus meaningful: the seeds named
// valid_* must still be accepted, so the fuzzer starts from tokens that
// reach the claim checks.
func TestFuzzSeedsStillValid(t *testing.T) {
	v := fuzzVerifier(t)
	paths, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzVerify", "valid_*"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no valid seeds: %v", err)
	}
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		token, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], "string("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if _, err := v.Verify(token, nil, now); err != nil {
			t.Errorf("%s: %v", filepath.Base(path), err)
		}
	}
}
