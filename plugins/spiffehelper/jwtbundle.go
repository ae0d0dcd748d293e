package spiffehelper

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// MaxJWTBundleBytes bounds key.jwt; a bundle of a few trust domains is a few
// KiB.
const MaxJWTBundleBytes = 1 << 20

// ParseJWTBundle parses key.jwt as spiffe-helper writes it: a JSON object that
// maps each trust domain name to the standard base64 of that trust domain's
// JWKS, for example {"example.org":"eyJrZXlzIjpb..."}. It returns the decoded
// JWKS document of each trust domain.
//
// A plain JWKS ({"keys": [...]}) is refused: it does not say which trust
// domain its keys speak for, and that scoping is what keeps one trust
// domain's key from vouching for another's SPIFFE IDs.
func ParseJWTBundle(data []byte) (map[string][]byte, error) {
	if len(data) > MaxJWTBundleBytes {
		return nil, fmt.Errorf("key.jwt is %d bytes, more than the %d allowed", len(data), MaxJWTBundleBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("key.jwt is empty (spiffe-helper may be writing it)")
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, errors.New("key.jwt is not a JSON object mapping trust domains to base64 JWKS")
		}
		return nil, fmt.Errorf("key.jwt is not JSON (spiffe-helper may be writing it): %v", err)
	}
	if isPlainJWKS(doc) {
		return nil, errors.New(`key.jwt is a plain JWKS, which names no trust domain: spiffe-helper writes {"<trust domain>": "<base64 JWKS>"}`)
	}
	if len(doc) == 0 {
		return nil, errors.New("key.jwt names no trust domain")
	}
	out := make(map[string][]byte, len(doc))
	for name, value := range doc {
		jwks, err := decodeJWKS(name, value)
		if err != nil {
			return nil, err
		}
		out[name] = jwks
	}
	return out, nil
}

// isPlainJWKS reports whether doc looks like {"keys": [...]}.
func isPlainJWKS(doc map[string]json.RawMessage) bool {
	raw, ok := doc["keys"]
	return ok && strings.HasPrefix(string(bytes.TrimSpace(raw)), "[")
}

func decodeJWKS(name string, value json.RawMessage) ([]byte, error) {
	td, err := spiffeid.TrustDomainFromString(name)
	if err != nil || td.Name() != name {
		return nil, fmt.Errorf("key.jwt: %q is not a trust domain name", name)
	}
	var encoded string
	if err := json.Unmarshal(value, &encoded); err != nil {
		return nil, fmt.Errorf("key.jwt: trust domain %q: the value is not a string of base64", name)
	}
	jwks, err := base64.StdEncoding.Strict().DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("key.jwt: trust domain %q: the JWKS is not standard base64: %v", name, err)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil || set.Keys == nil {
		return nil, fmt.Errorf(`key.jwt: trust domain %q: the decoded value is not a JWKS (want {"keys": [...]})`, name)
	}
	return jwks, nil
}

// sortedNames lists the trust domains of a parsed bundle in order, so equal
// bundles give equal snapshots.
func sortedNames(sets map[string][]byte) []string {
	names := make([]string, 0, len(sets))
	for name := range sets {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
