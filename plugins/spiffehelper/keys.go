package spiffehelper

import (
	"fmt"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// keys is one parsed key.jwt: the snapshot published through WatchKeys and
// the verifier compiled from that same snapshot, so the broker's local check
// and the plugin's Verify always agree.
type keys struct {
	raw      []byte
	snap     sdk.KeySnapshot
	verifier *jwtverify.Verifier
	// skipped says which keys were left out and why.
	skipped []error
}

// buildKeys parses key.jwt into a snapshot: one key set per trust domain,
// whose tokens must name a kid and carry a SPIFFE ID of that trust domain.
func buildKeys(raw []byte, s *settings, generation uint64) (*keys, error) {
	sets, err := ParseJWTBundle(raw)
	if err != nil {
		return nil, err
	}
	k := &keys{raw: raw, snap: sdk.KeySnapshot{Generation: generation}}
	for _, td := range sortedNames(sets) {
		jwks, skipped, err := jwtverify.UsableKeys(sets[td])
		if err != nil {
			return nil, fmt.Errorf("key.jwt: trust domain %q: %v", td, err)
		}
		for _, why := range skipped {
			k.skipped = append(k.skipped, fmt.Errorf("trust domain %q: %w", td, why))
		}
		k.snap.KeySets = append(k.snap.KeySets, sdk.KeySet{
			Name: td,
			JWKS: jwks,
			Rules: sdk.ClaimRules{
				Audiences:          s.audiences,
				Leeway:             s.leeway,
				RequireKID:         true,
				SPIFFETrustDomain:  td,
				SlimClaimsAudience: true,
			},
		})
	}
	if k.verifier, err = jwtverify.New(k.snap); err != nil {
		return nil, fmt.Errorf("key.jwt: %v", err)
	}
	return k, nil
}
