package sdk

import (
	"crypto"
	"crypto/x509"
	"time"
)

// TokenRequest asks for a token for the local workload.
type TokenRequest struct {
	// Audiences the token is for. Empty: the plugin's configured default.
	Audiences []string
	// PublicKey is bound into the token (the `pubkey` claim): the raw MLS leaf
	// signature key (Ed25519: 32 bytes; P-256: 65-byte uncompressed point).
	PublicKey []byte
	// TTLHint is the desired lifetime; plugins may ignore or cap it.
	TTLHint time.Duration
}

// Token is a credential for the local workload.
type Token struct {
	Value     string
	Subject   string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// VerifyRequest asks to check a token.
type VerifyRequest struct {
	Token string
	// Audiences expected (any of). Empty: the plugin's configured audiences.
	Audiences []string
	// At is the time to verify at. Zero: now.
	At time.Time
}

// Identity is what a verified credential proves.
type Identity struct {
	Subject   string
	Issuer    string
	Audiences []string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// PublicKey is the bound key, raw as in TokenRequest.PublicKey; nil when
	// the credential binds none.
	PublicKey []byte
	// Claims holds every claim, decoded from JSON.
	Claims map[string]any
	// Provider names the plugin entry that verified it (set by the host).
	Provider string
	// SingleUse means the plugin consumed the token (replay protection): the
	// verdict must not be reused.
	SingleUse bool
}

// Status is a plugin's readiness.
type Status struct {
	Ready   bool
	Message string
	// TokenIssuedAt and TokenExpiresAt describe the token the plugin holds,
	// if any.
	TokenIssuedAt  time.Time
	TokenExpiresAt time.Time
}

// KeySnapshot is the whole verification material of a plugin at one moment.
type KeySnapshot struct {
	// Generation grows with every change.
	Generation uint64
	KeySets    []KeySet
}

// KeySet is the keys of one issuer or trust domain and the rules its tokens
// must satisfy.
type KeySet struct {
	// Name is the issuer URL or the SPIFFE trust domain.
	Name string
	// JWKS is a JWKS document. Keys without `alg` take it from kty/crv.
	JWKS  []byte
	Rules ClaimRules
}

// ClaimRules are the checks a token must pass beyond its signature.
type ClaimRules struct {
	// Issuers: `iss` must be one of these. Empty: not checked.
	Issuers []string
	// Audiences expected when a request names none.
	Audiences []string
	// Leeway for exp, nbf and iat.
	Leeway time.Duration
	// RequireKID: keys and tokens must carry a `kid` (SPIFFE).
	RequireKID bool
	// SPIFFETrustDomain: `sub` must be a SPIFFE ID in this trust domain.
	SPIFFETrustDomain string
	// SlimClaimsAudience: decode `slim-claims:<base64 JSON>` audiences, take
	// `pubkey` from them, strip them from the reported audiences.
	SlimClaimsAudience bool
	// SubjectPatterns: `sub` must fully match one of these RE2 expressions.
	SubjectPatterns []string
	// RequiredClaims must be present with one of their values.
	RequiredClaims []ClaimCondition
	// MaxTokenBytes: longer tokens are refused unread. 0: default.
	MaxTokenBytes int
}

// ClaimCondition requires a top-level claim to equal one of AnyOf (compared
// as strings; an array claim matches if any element does).
type ClaimCondition struct {
	Claim string
	AnyOf []string
}

// X509SVID is an X.509 identity: a certificate chain, its key, and the CA
// bundles trusted per trust domain.
type X509SVID struct {
	Chain      []*x509.Certificate
	PrivateKey crypto.Signer
	Bundles    map[string][]*x509.Certificate
}
