package jwt

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
	"github.com/slimid/slimid/sdk/pluginconf"
)

// setup is a configuration decoded, checked and with its keys loaded. It is
// built without side effects, so ValidateConfig and Configure share it.
type setup struct {
	provider *providerSetup
	verifier *verifierSetup
	notes    []string
}

type providerSetup struct {
	issuer, subject, kid string
	audience             []string
	custom               map[string]any
	duration             time.Duration
	source               keySource
	key                  *signingKey
}

type verifierSetup struct {
	issuer string
	// rules hold everything but the issuers, which each key set sets.
	rules sdk.ClaimRules
	// static keys (type decoding)
	static     *keySource
	staticJWKS []byte
	// resolved keys (type autoresolve)
	issuers   []string
	cooldown  time.Duration
	algorithm jwa.SignatureAlgorithm
}

// reservedClaims are set by the provider itself.
var reservedClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "pubkey"}

// parseConfig decodes and checks a configuration and loads its keys. Its
// errors are configuration errors of one line.
func parseConfig(data []byte) (*setup, error) {
	var cfg Config
	if err := pluginconf.Decode(data, &cfg); err != nil {
		return nil, sdk.InvalidConfig("%v", err)
	}
	s, err := checkConfig(cfg)
	if err != nil {
		return nil, sdk.InvalidConfig("%v", err)
	}
	return s, nil
}

func checkConfig(cfg Config) (*setup, error) {
	if cfg.Provider == nil && cfg.Verifier == nil {
		return nil, errors.New("config needs a provider section, a verifier section or both")
	}
	s := &setup{}
	if cfg.Provider != nil {
		p, err := checkProvider(*cfg.Provider)
		if err != nil {
			return nil, err
		}
		s.provider = p
	}
	if cfg.Verifier != nil {
		v, notes, err := checkVerifier(*cfg.Verifier)
		if err != nil {
			return nil, err
		}
		s.verifier, s.notes = v, notes
	}
	return s, nil
}

func checkProvider(c ProviderConfig) (*providerSetup, error) {
	p := &providerSetup{issuer: c.Claims.Issuer, subject: c.Claims.Subject, kid: c.KID, audience: c.Claims.Audience, duration: c.Duration}
	if p.subject == "" {
		return nil, errors.New("provider.claims.subject is required: it names the workload")
	}
	if len(p.audience) == 0 || slices.Contains(p.audience, "") {
		return nil, errors.New("provider.claims.audience needs at least one non-empty audience")
	}
	if p.duration == 0 {
		p.duration = DefaultDuration
	}
	if p.duration < time.Second || p.duration > MaxDuration {
		return nil, fmt.Errorf("provider.duration %s is out of range (1s to %s)", c.Duration, MaxDuration)
	}
	for name := range c.Claims.CustomClaims {
		if slices.Contains(reservedClaims, name) {
			return nil, fmt.Errorf("provider.claims.custom_claims sets %q, which the provider sets itself; remove it", name)
		}
	}
	if len(c.Claims.CustomClaims) > 0 {
		doc, err := json.Marshal(c.Claims.CustomClaims)
		if err != nil {
			return nil, fmt.Errorf("provider.claims.custom_claims do not encode as JSON: %v", err)
		}
		if err := json.Unmarshal(doc, &p.custom); err != nil {
			return nil, fmt.Errorf("provider.claims.custom_claims do not encode as JSON: %v", err)
		}
	}
	if c.Key.Type != "encoding" {
		return nil, fmt.Errorf("provider.key.type is %q; a provider signs with type encoding", c.Key.Type)
	}
	src, err := newKeySource("provider.key", c.Key)
	if err != nil {
		return nil, err
	}
	p.source = src
	if p.key, err = src.loadSigningKey(c.KID); err != nil {
		return nil, err
	}
	return p, nil
}

func checkVerifier(c VerifierConfig) (*verifierSetup, []string, error) {
	v := &verifierSetup{issuer: c.Claims.Issuer}
	if len(c.Claims.Audience) == 0 || slices.Contains(c.Claims.Audience, "") {
		return nil, nil, errors.New("verifier.claims.audience needs at least one non-empty audience: tokens for any audience would be accepted otherwise")
	}
	leeway := DefaultLeeway
	if c.Leeway != nil {
		leeway = *c.Leeway
	}
	if leeway < 0 || leeway > MaxLeeway {
		return nil, nil, fmt.Errorf("verifier.leeway %s is out of range (0 to %s)", leeway, MaxLeeway)
	}
	if c.MaxTokenBytes < 0 {
		return nil, nil, fmt.Errorf("verifier.max_token_bytes %d is negative", c.MaxTokenBytes)
	}
	v.rules = sdk.ClaimRules{
		Audiences:       c.Claims.Audience,
		Leeway:          leeway,
		SubjectPatterns: c.SubjectPatterns,
		MaxTokenBytes:   c.MaxTokenBytes,
		RequiredClaims:  claimConditions(c.ClaimConditions),
	}
	var notes []string
	switch c.Key.Type {
	case "decoding":
		src, err := newKeySource("verifier.key", c.Key)
		if err != nil {
			return nil, nil, err
		}
		v.static = &src
		if v.staticJWKS, notes, err = src.loadVerificationKeys(); err != nil {
			return nil, nil, err
		}
	case "autoresolve":
		if err := v.checkAutoresolve(c.Key); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, fmt.Errorf("verifier.key.type is %q; use decoding (static keys) or autoresolve (issuer discovery)", c.Key.Type)
	}
	if _, err := jwtverify.New(sdk.KeySnapshot{KeySets: v.keySets(v.staticJWKS, nil)}); err != nil {
		return nil, nil, fmt.Errorf("verifier: %v", err)
	}
	return v, notes, nil
}

func (v *verifierSetup) checkAutoresolve(k KeyConfig) error {
	if k.Format != "" || k.Key != nil {
		return errors.New("verifier.key: an autoresolve key takes issuers, not format or key")
	}
	if k.Algorithm != "" {
		alg := jwa.SignatureAlgorithm(k.Algorithm)
		if !slices.Contains(algorithms, alg) || alg == jwa.HS256 || alg == jwa.HS384 || alg == jwa.HS512 {
			return fmt.Errorf("verifier.key.algorithm %q is not an asymmetric signature algorithm", k.Algorithm)
		}
		v.algorithm = alg
	}
	v.issuers = slices.Clone(k.Issuers)
	if v.issuer != "" && !slices.Contains(v.issuers, v.issuer) {
		v.issuers = append(v.issuers, v.issuer)
	}
	if len(v.issuers) == 0 {
		return errors.New("verifier.key: autoresolve needs issuers (or verifier.claims.issuer): only allowed issuers are resolved")
	}
	for _, iss := range v.issuers {
		if err := checkIssuerURL(iss); err != nil {
			return err
		}
	}
	v.cooldown = DefaultRefreshCooldown
	if k.RefreshCooldown != nil {
		v.cooldown = *k.RefreshCooldown
	}
	if v.cooldown < 0 || v.cooldown > MaxRefreshCooldown {
		return fmt.Errorf("verifier.key.refresh_cooldown %s is out of range (0 to %s)", v.cooldown, MaxRefreshCooldown)
	}
	return nil
}

// checkIssuerURL requires an https URL without query or fragment; plain
// http only on a loopback host.
func checkIssuerURL(iss string) error {
	u, err := url.Parse(iss)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("verifier.key.issuers: %q is not an issuer URL like https://idp.example.com", iss)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return fmt.Errorf("verifier.key.issuers: %q must use https (plain http only on a loopback address)", iss)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// claimConditions maps claim_conditions to rules, in a stable order.
func claimConditions(m map[string][]string) []sdk.ClaimCondition {
	var out []sdk.ClaimCondition
	for claim, values := range m {
		out = append(out, sdk.ClaimCondition{Claim: claim, AnyOf: values})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Claim < out[j].Claim })
	return out
}

// emptyJWKS stands for an issuer whose keys are not fetched yet.
var emptyJWKS = []byte(`{"keys":[]}`)

// keySets builds the published key sets: one for static keys, or one per
// allowed issuer with the keys fetched so far.
func (v *verifierSetup) keySets(static []byte, resolved map[string][]byte) []sdk.KeySet {
	if v.static != nil {
		rules := v.rules
		name := "static"
		if v.issuer != "" {
			rules.Issuers = []string{v.issuer}
			name = v.issuer
		}
		return []sdk.KeySet{{Name: name, JWKS: static, Rules: rules}}
	}
	sets := make([]sdk.KeySet, 0, len(v.issuers))
	for _, iss := range v.issuers {
		rules := v.rules
		rules.Issuers = []string{iss}
		doc := resolved[iss]
		if doc == nil {
			doc = emptyJWKS
		}
		sets = append(sets, sdk.KeySet{Name: iss, JWKS: doc, Rules: rules})
	}
	return sets
}
