package jwt

import (
	"time"
)

// Config is the plugin's configuration: SLIM's JWT provider and verifier
// shapes, under `provider` and `verifier`. Either or both may be set.
type Config struct {
	// Provider mints tokens for the local workload.
	Provider *ProviderConfig `yaml:"provider"`
	// Verifier checks tokens and publishes the keys it trusts.
	Verifier *VerifierConfig `yaml:"verifier"`
}

// ProviderConfig mints tokens signed with a private key.
type ProviderConfig struct {
	Claims ProviderClaims `yaml:"claims"`
	// Duration is the token lifetime. Default: 1h.
	Duration time.Duration `yaml:"duration"`
	// Key is the signing key; its type must be `encoding`.
	Key KeyConfig `yaml:"key"`
	// KID goes in the token header. Default: the subject, as SLIM does.
	KID string `yaml:"kid"`
}

// ProviderClaims are the claims every minted token carries.
type ProviderClaims struct {
	Issuer string `yaml:"issuer"`
	// Audience is the default; a request's own audiences replace it.
	Audience []string `yaml:"audience"`
	Subject  string   `yaml:"subject"`
	// CustomClaims are added at the top level of the payload.
	CustomClaims map[string]any `yaml:"custom_claims"`
}

// VerifierConfig checks tokens against static keys or keys resolved from
// allowed issuers.
type VerifierConfig struct {
	Claims VerifierClaims `yaml:"claims"`
	// Key is `decoding` (static keys) or `autoresolve` (issuer discovery).
	Key KeyConfig `yaml:"key"`
	// Leeway for exp, nbf and iat. Default: 60s; at most 5m.
	Leeway *time.Duration `yaml:"leeway"`
	// SubjectPatterns: `sub` must fully match one of these RE2 expressions.
	SubjectPatterns []string `yaml:"subject_patterns"`
	// ClaimConditions: each named claim must hold one of the listed values.
	ClaimConditions map[string][]string `yaml:"claim_conditions"`
	// MaxTokenBytes refuses longer tokens unread. Default: 16384.
	MaxTokenBytes int `yaml:"max_token_bytes"`
}

// VerifierClaims are the claims every verified token must carry.
type VerifierClaims struct {
	// Issuer, when set, is the only `iss` accepted (with autoresolve it is
	// also resolved).
	Issuer string `yaml:"issuer"`
	// Audience: the token must name one of these. Required.
	Audience []string `yaml:"audience"`
}

// KeyConfig describes key material, as SLIM does.
type KeyConfig struct {
	// Type is `encoding` (signing), `decoding` (static verification keys) or
	// `autoresolve` (keys fetched from allowed issuers).
	Type string `yaml:"type"`
	// Algorithm pins the signature algorithm (ES256, ES384, EdDSA, RS256,
	// RS384, RS512, PS256, PS384, PS512, HS256, HS384, HS512). Default:
	// derived from the key; required for an HMAC secret.
	Algorithm string `yaml:"algorithm"`
	// Format is pem, jwk or jwks (encoding and decoding keys).
	Format string `yaml:"format"`
	// Key is where the material is (encoding and decoding keys).
	Key *KeySource `yaml:"key"`
	// Issuers may be resolved (autoresolve only).
	Issuers []string `yaml:"issuers"`
	// RefreshCooldown is the least time between two fetches of one issuer's
	// keys triggered by unknown kids (autoresolve only). Default: 30s.
	RefreshCooldown *time.Duration `yaml:"refresh_cooldown"`
}

// KeySource is key material inline (`data`) or in a file (`file`).
type KeySource struct {
	File string `yaml:"file"`
	Data string `yaml:"data"`
}

// Defaults and bounds.
const (
	DefaultDuration        = time.Hour
	MaxDuration            = 30 * 24 * time.Hour
	DefaultLeeway          = 60 * time.Second
	MaxLeeway              = 5 * time.Minute
	DefaultRefreshCooldown = 30 * time.Second
	MaxRefreshCooldown     = time.Hour
)
