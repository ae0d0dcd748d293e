package jwtverify

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/slimid/slimid/sdk"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// DefaultMaxTokenBytes caps a token when its key set's rules name no limit.
const DefaultMaxTokenBytes = 16 << 10

// keySet is one sdk.KeySet compiled: keys indexed by kid, rules checked and
// patterns compiled.
type keySet struct {
	name        string
	rules       sdk.ClaimRules
	trustDomain string
	byKID       map[string][]*key
	// noKID holds the keys that carry no kid; they stand in for any kid the
	// set does not know (a PEM key has no kid, SLIM puts `sub` in it).
	noKID    []*key
	all      []*key
	subjects []*regexp.Regexp
	maxBytes int
}

func compileSet(ks sdk.KeySet) (*keySet, error) {
	if ks.Name == "" {
		return nil, errors.New("a key set has no name")
	}
	set := &keySet{name: ks.Name, rules: ks.Rules, byKID: map[string][]*key{}, maxBytes: ks.Rules.MaxTokenBytes}
	if err := set.checkRules(); err != nil {
		return nil, fmt.Errorf("key set %q: %w", ks.Name, err)
	}
	parsed, err := jwk.Parse(ks.JWKS)
	if err != nil {
		return nil, fmt.Errorf("key set %q: JWKS does not parse: %v", ks.Name, err)
	}
	for i := range parsed.Len() {
		jk, _ := parsed.Key(i)
		k, err := compileKey(jk)
		if errors.Is(err, errEncryptionKey) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("key set %q: key %d (kid %q): %w", ks.Name, i, jk.KeyID(), err)
		}
		if k.kid == "" && ks.Rules.RequireKID {
			return nil, fmt.Errorf("key set %q: key %d has no kid, and the set requires one", ks.Name, i)
		}
		set.all = append(set.all, k)
		if k.kid == "" {
			set.noKID = append(set.noKID, k)
		} else {
			set.byKID[k.kid] = append(set.byKID[k.kid], k)
		}
	}
	return set, nil
}

func (s *keySet) checkRules() error {
	r := s.rules
	if r.Leeway < 0 || r.Leeway > time.Hour {
		return fmt.Errorf("leeway %s is out of range (0 to 1h)", r.Leeway)
	}
	if r.MaxTokenBytes < 0 {
		return fmt.Errorf("max token bytes %d is negative", r.MaxTokenBytes)
	}
	if s.maxBytes == 0 {
		s.maxBytes = DefaultMaxTokenBytes
	}
	if slices.Contains(r.Issuers, "") {
		return errors.New("an issuer is empty")
	}
	if slices.Contains(r.Audiences, "") {
		return errors.New("an audience is empty")
	}
	if r.SPIFFETrustDomain != "" {
		td, err := spiffeid.TrustDomainFromString(r.SPIFFETrustDomain)
		if err != nil {
			return fmt.Errorf("trust domain %q: %v", r.SPIFFETrustDomain, err)
		}
		s.trustDomain = td.Name()
	}
	for _, p := range r.SubjectPatterns {
		re, err := regexp.Compile(`^(?:` + p + `)$`)
		if err != nil {
			return fmt.Errorf("subject pattern %q: %v", p, err)
		}
		s.subjects = append(s.subjects, re)
	}
	for _, c := range r.RequiredClaims {
		if c.Claim == "" || len(c.AnyOf) == 0 {
			return fmt.Errorf("required claim %q needs a name and at least one value", c.Claim)
		}
	}
	return nil
}

// UsableKeys returns jwks reduced to the keys New accepts, and why each
// other key was left out. Keys meant for encryption (`use: enc`) are dropped
// silently. It lets a plugin publish what an issuer serves without one odd
// key making the whole snapshot unusable.
func UsableKeys(jwks []byte) (kept []byte, skipped []error, err error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &doc); err != nil {
		return nil, nil, fmt.Errorf("JWKS is not a JSON object with keys: %v", err)
	}
	out := struct {
		Keys []json.RawMessage `json:"keys"`
	}{Keys: []json.RawMessage{}}
	for i, raw := range doc.Keys {
		jk, err := jwk.ParseKey(raw)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %v", i, err))
			continue
		}
		if _, err := compileKey(jk); err != nil {
			if !errors.Is(err, errEncryptionKey) {
				skipped = append(skipped, fmt.Errorf("key %d (kid %q): %w", i, jk.KeyID(), err))
			}
			continue
		}
		out.Keys = append(out.Keys, raw)
	}
	kept, err = json.Marshal(out)
	return kept, skipped, err
}
