package sharedsecret

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/slimid/slimid/sdk"
)

// The token is `<id>:<unix_ts_secs>:<nonce>:<claims>:<mac>`, as SLIM writes it:
// nonce is 12 random bytes and claims a JSON object, both base64url without
// padding (claims may be empty), and mac is HMAC-SHA256 keyed with the
// secret's bytes over everything before the last colon, base64url without
// padding.
const (
	nonceBytes = 12
	macBytes   = sha256.Size
	// MaxTokenBytes bounds what Verify reads; longer tokens are refused unread.
	MaxTokenBytes = 8 << 10
	// MaxPublicKeyBytes bounds the key FetchToken binds (Ed25519: 32 bytes,
	// P-256: 65).
	MaxPublicKeyBytes = 256
)

var b64url = base64.RawURLEncoding.Strict()

// token is a parsed, not yet trusted, shared-secret token.
type token struct {
	id       string
	issuedAt int64
	nonce    string
	claims   string
	signed   string // id:ts:nonce:claims, the MAC input
	mac      []byte
}

// mint builds a token for id at ts, with the given nonce and claims.
func mint(secret []byte, id string, ts time.Time, nonce []byte, claims map[string]any) (string, error) {
	encClaims := ""
	if len(claims) > 0 {
		raw, err := json.Marshal(claims)
		if err != nil {
			return "", fmt.Errorf("encode claims: %w", err)
		}
		encClaims = b64url.EncodeToString(raw)
	}
	signed := id + ":" + strconv.FormatInt(ts.Unix(), 10) + ":" + b64url.EncodeToString(nonce) + ":" + encClaims
	return signed + ":" + b64url.EncodeToString(computeMAC(secret, signed)), nil
}

func computeMAC(secret []byte, signed string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// parse splits a token and checks the shape of every field. It trusts
// nothing: the MAC is checked by the caller.
func parse(raw string) (token, error) {
	if len(raw) > MaxTokenBytes {
		return token{}, sdk.Reject(sdk.ErrInvalid, "shared-secret token is %d bytes, more than the %d allowed", len(raw), MaxTokenBytes)
	}
	parts := strings.Split(raw, ":")
	if len(parts) != 5 {
		return token{}, sdk.Reject(sdk.ErrInvalid, "shared-secret token has %d fields, want 5 (id:timestamp:nonce:claims:mac)", len(parts))
	}
	id, ts, nonce, claims, mac := parts[0], parts[1], parts[2], parts[3], parts[4]
	if err := checkID(id); err != nil {
		return token{}, sdk.Reject(sdk.ErrInvalid, "shared-secret token: %v", err)
	}
	issuedAt, err := parseTimestamp(ts)
	if err != nil {
		return token{}, sdk.Reject(sdk.ErrInvalid, "shared-secret token: %v", err)
	}
	if n, err := b64url.DecodeString(nonce); err != nil || len(n) != nonceBytes {
		return token{}, sdk.Reject(sdk.ErrInvalid, "shared-secret token: nonce is not %d bytes of base64url", nonceBytes)
	}
	macRaw, err := b64url.DecodeString(mac)
	if err != nil || len(macRaw) != macBytes {
		return token{}, sdk.Reject(sdk.ErrInvalid, "shared-secret token: mac is not %d bytes of base64url", macBytes)
	}
	return token{id: id, issuedAt: issuedAt, nonce: nonce, claims: claims, signed: raw[:len(raw)-len(mac)-1], mac: macRaw}, nil
}

// parseTimestamp accepts decimal digits only (no sign, no spaces).
func parseTimestamp(s string) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, fmt.Errorf("timestamp %q is not unix seconds", s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("timestamp %q is not unix seconds", s)
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("timestamp %q is not unix seconds", s)
	}
	return v, nil
}

// checkID enforces SLIM's rules for an identity: non-empty, no colon, no
// white space.
func checkID(id string) error {
	if id == "" {
		return fmt.Errorf("id is empty")
	}
	if strings.ContainsRune(id, ':') {
		return fmt.Errorf("id %q contains ':'", id)
	}
	if strings.IndexFunc(id, unicode.IsSpace) >= 0 {
		return fmt.Errorf("id %q contains white space", id)
	}
	return nil
}

// decodeClaims decodes the claims field: empty, or base64url of a JSON
// object.
func decodeClaims(enc string) (map[string]any, error) {
	if enc == "" {
		return map[string]any{}, nil
	}
	raw, err := b64url.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("claims are not base64url")
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil || claims == nil {
		return nil, fmt.Errorf("claims are not a JSON object")
	}
	return claims, nil
}
