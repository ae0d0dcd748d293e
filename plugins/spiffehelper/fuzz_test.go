package spiffehelper_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/slimid/slimid/plugins/spiffehelper"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// FuzzParseJWTBundle: key.jwt is written by another process and may be cut
// anywhere; whatever it holds, parsing returns an error or trust domains
// with JWKS documents, never a panic.
func FuzzParseJWTBundle(f *testing.F) {
	f.Add([]byte(`{"example.org":"eyJrZXlzIjpbXX0="}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sets, err := spiffehelper.ParseJWTBundle(data)
		if err != nil {
			if sets != nil {
				t.Fatal("an error came with a result")
			}
			return
		}
		if len(sets) == 0 {
			t.Fatal("accepted a bundle with no trust domain")
		}
		for name, jwks := range sets {
			if td, err := spiffeid.TrustDomainFromString(name); err != nil || td.Name() != name {
				t.Fatalf("accepted %q as a trust domain", name)
			}
			var doc struct {
				Keys []json.RawMessage `json:"keys"`
			}
			if err := json.Unmarshal(jwks, &doc); err != nil || doc.Keys == nil {
				t.Fatalf("accepted a JWKS without keys for %q", name)
			}
		}
	})
}

// FuzzParseTokenFile: jwt_svid.token may be empty, half written or junk;
// what is accepted is a compact JWT with no white space.
func FuzzParseTokenFile(f *testing.F) {
	f.Add([]byte("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := spiffehelper.ParseTokenFile(data)
		if err != nil {
			if tok != "" {
				t.Fatal("an error came with a token")
			}
			return
		}
		if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \t\r\n") || len(tok) > spiffehelper.MaxTokenFileBytes {
			t.Fatalf("accepted %q", tok)
		}
	})
}
