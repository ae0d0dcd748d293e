package jwtverify

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/slimid/slimid/sdk"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// ErrUndecided: not a JWS compact token, no key set matches its issuer /
// trust domain, or its kid is unknown. The broker then falls back to the
// plugin's Verify RPC; a plugin's own Verify turns it into a verdict
// (sdk.ErrUntrusted).
var ErrUndecided = errors.New("jwtverify: cannot decide with the published keys")

// Verifier is compiled from one snapshot; immutable and safe for concurrent
// use.
type Verifier struct {
	generation uint64
	sets       []*keySet
	// maxBytes is the largest cap of any set: longer tokens are refused
	// before anything is decoded.
	maxBytes int
}

// New parses every key set once. An error names the key set and key that
// failed.
func New(snap sdk.KeySnapshot) (*Verifier, error) {
	v := &Verifier{generation: snap.Generation, maxBytes: DefaultMaxTokenBytes}
	names := map[string]bool{}
	for _, ks := range snap.KeySets {
		set, err := compileSet(ks)
		if err != nil {
			return nil, fmt.Errorf("jwtverify: %w", err)
		}
		if names[ks.Name] {
			return nil, fmt.Errorf("jwtverify: key set %q appears twice", ks.Name)
		}
		names[ks.Name] = true
		v.sets = append(v.sets, set)
	}
	if len(v.sets) > 0 {
		v.maxBytes = slices.MaxFunc(v.sets, func(a, b *keySet) int { return a.maxBytes - b.maxBytes }).maxBytes
	}
	return v, nil
}

// Generation is the snapshot's generation.
func (v *Verifier) Generation() uint64 { return v.generation }

// Verify checks token against the snapshot at time now. audiences: expected
// (any of); empty means the key set's Rules.Audiences; if both are empty the
// call fails (a configuration error, never an accept).
// It returns an sdk verdict built with sdk.Reject (sdk.ErrInvalid,
// ErrExpired, ErrNotYetValid, ErrAudience, ErrUntrusted, ErrPolicy), or
// ErrUndecided when it cannot decide locally.
func (v *Verifier) Verify(token string, audiences []string, now time.Time) (sdk.Identity, error) {
	if len(token) > v.maxBytes {
		return sdk.Identity{}, tooLarge(len(token), v.maxBytes)
	}
	c, err := splitCompact(token)
	if err != nil {
		return sdk.Identity{}, err
	}
	iss, err := stringClaim(c.claims, "iss")
	if err != nil {
		return sdk.Identity{}, err
	}
	sub, err := stringClaim(c.claims, "sub")
	if err != nil {
		return sdk.Identity{}, err
	}
	sets := v.candidates(iss, sub)
	if len(sets) == 0 {
		return sdk.Identity{}, fmt.Errorf("%w: no key set trusts issuer %q or subject %q", ErrUndecided, iss, sub)
	}
	for _, s := range sets {
		if len(token) > s.maxBytes {
			return sdk.Identity{}, tooLarge(len(token), s.maxBytes)
		}
	}
	set, err := verifySignature(c, sets)
	if err != nil {
		return sdk.Identity{}, err
	}
	return set.checkClaims(c.claims, audiences, now)
}

func tooLarge(n, limit int) error {
	return sdk.Reject(sdk.ErrInvalid, "token is %d bytes, more than the %d allowed", n, limit)
}

// candidates are the key sets that may judge a token from iss and sub: a
// set naming issuers is picked by its `iss`, a trust domain set by a `sub`
// in that trust domain, an unrestricted set by every token.
func (v *Verifier) candidates(iss, sub string) []*keySet {
	var out []*keySet
	var td string
	tdParsed := false
	for _, s := range v.sets {
		switch {
		case len(s.rules.Issuers) == 0 && s.trustDomain == "":
			out = append(out, s)
		case iss != "" && slices.Contains(s.rules.Issuers, iss):
			out = append(out, s)
		case s.trustDomain != "":
			if !tdParsed {
				if id, err := spiffeid.FromString(sub); err == nil {
					td = id.TrustDomain().Name()
				}
				tdParsed = true
			}
			if td == s.trustDomain {
				out = append(out, s)
			}
		}
	}
	return out
}

// candidate is one key to try, with the set whose rules then apply.
type candidate struct {
	set *keySet
	key *key
}

// verifySignature finds the keys the token may be signed with, pins the
// algorithm to theirs and checks the signature.
func verifySignature(c *compact, sets []*keySet) (*keySet, error) {
	keys, byKID, err := keysFor(c.header, sets)
	if err != nil {
		return nil, err
	}
	var algs []string
	tried := 0
	for _, k := range keys {
		if k.key.alg != c.header.alg {
			if !slices.Contains(algs, k.key.alg.String()) {
				algs = append(algs, k.key.alg.String())
			}
			continue
		}
		tried++
		if k.key.verifier.Verify([]byte(c.signingInput), c.signature, k.key.raw) == nil {
			return k.set, nil
		}
	}
	if tried == 0 {
		return nil, sdk.Reject(sdk.ErrInvalid, "token alg %s does not match the published key algorithm %s", printable(c.header.alg), strings.Join(algs, ", "))
	}
	if byKID {
		return nil, sdk.Reject(sdk.ErrInvalid, "signature does not verify with key %q", c.header.kid)
	}
	return nil, sdk.Reject(sdk.ErrInvalid, "signature does not verify with any published key")
}

// keysFor selects keys by kid: the keys carrying it, or else the keys that
// carry none; without a kid, every key of a set that does not require one.
// byKID tells whether the token's kid picked them.
func keysFor(h header, sets []*keySet) (out []candidate, byKID bool, err error) {
	if h.hasKID {
		for _, s := range sets {
			for _, k := range s.byKID[h.kid] {
				out = append(out, candidate{s, k})
			}
		}
		if len(out) > 0 {
			return out, true, nil
		}
		for _, s := range sets {
			if s.rules.RequireKID {
				continue
			}
			for _, k := range s.noKID {
				out = append(out, candidate{s, k})
			}
		}
		if len(out) == 0 {
			return nil, false, fmt.Errorf("%w: kid %q is not among the published keys", ErrUndecided, h.kid)
		}
		return out, false, nil
	}
	for _, s := range sets {
		if s.rules.RequireKID {
			continue
		}
		for _, k := range s.all {
			out = append(out, candidate{s, k})
		}
	}
	if len(out) == 0 {
		if slices.ContainsFunc(sets, func(s *keySet) bool { return s.rules.RequireKID }) {
			return nil, false, sdk.Reject(sdk.ErrInvalid, "token has no kid; key set %q requires one", sets[0].name)
		}
		return nil, false, fmt.Errorf("%w: no published key for this token", ErrUndecided)
	}
	return out, false, nil
}

// printable quotes an algorithm name taken from a token, keeping it short.
func printable(alg jwa.SignatureAlgorithm) string {
	s := string(alg)
	if len(s) > 16 {
		s = s[:16] + "..."
	}
	return fmt.Sprintf("%q", s)
}
