package spiffehelper

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MaxTokenFileBytes bounds jwt_svid.token; a JWT-SVID is well under 2 KiB.
const MaxTokenFileBytes = 16 << 10

// slimClaimsPrefix marks SLIM's audience that carries claims, not a party.
const slimClaimsPrefix = "slim-claims:"

var errNotCompact = errors.New("jwt_svid.token is not a JWT in compact form (three base64url parts joined by dots)")

// ParseTokenFile reads jwt_svid.token: the raw JWT, which spiffe-helper writes
// without a trailing newline (trailing white space, as an editor leaves it, is
// tolerated). It checks the shape only; the plugin checks the signature and
// claims against key.jwt before it takes a token.
func ParseTokenFile(data []byte) (string, error) {
	if len(data) > MaxTokenFileBytes {
		return "", fmt.Errorf("jwt_svid.token is %d bytes, more than the %d allowed", len(data), MaxTokenFileBytes)
	}
	data = bytes.TrimRight(data, " \t\r\n")
	if len(data) == 0 {
		return "", errors.New("jwt_svid.token is empty (spiffe-helper may be writing it)")
	}
	parts := strings.Split(string(data), ".")
	if len(parts) != 3 {
		return "", errNotCompact
	}
	for _, part := range parts {
		// The decoder skips CR and LF, so the alphabet is checked first.
		if part == "" || strings.IndexFunc(part, notBase64URL) >= 0 {
			return "", errNotCompact
		}
		if _, err := base64.RawURLEncoding.Strict().DecodeString(part); err != nil {
			return "", errNotCompact
		}
	}
	return string(data), nil
}

func notBase64URL(r rune) bool {
	switch {
	case 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '-', r == '_':
		return false
	}
	return true
}

// ownAudiences reads the audiences of a token without verifying it, leaving
// out SLIM's slim-claims entries. The plugin checks its own token for exactly
// the audiences spiffe-helper asked for; the signature check that follows is
// what makes the token trusted.
func ownAudiences(token string) ([]string, error) {
	first := strings.IndexByte(token, '.')
	last := strings.LastIndexByte(token, '.')
	if first < 0 || last <= first {
		return nil, errNotCompact
	}
	payload, err := base64.RawURLEncoding.DecodeString(token[first+1 : last])
	if err != nil {
		return nil, errNotCompact
	}
	var claims struct {
		Aud json.RawMessage `json:"aud"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, errors.New("jwt_svid.token: the payload is not a JSON object")
	}
	var auds []string
	var one string
	if claims.Aud == nil {
		auds = nil
	} else if err := json.Unmarshal(claims.Aud, &one); err == nil {
		auds = []string{one}
	} else if err := json.Unmarshal(claims.Aud, &auds); err != nil {
		return nil, errors.New("jwt_svid.token: aud is not a string or a list of strings")
	}
	kept := auds[:0]
	for _, a := range auds {
		if a != "" && !strings.HasPrefix(a, slimClaimsPrefix) {
			kept = append(kept, a)
		}
	}
	if len(kept) == 0 {
		return nil, errors.New("jwt_svid.token names no audience: set jwt_audience in spiffe-helper's jwt_svids")
	}
	return kept, nil
}
