package spiffehelper_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/slimid/slimid/plugins/spiffehelper"
)

func TestParseJWTBundle(t *testing.T) {
	tests := []struct {
		fixture   string
		wantNames []string
		wantErr   string
	}{
		{fixture: "two_trust_domains.json", wantNames: []string{"example.org", "other.org"}},
		{fixture: "no_keys.json", wantNames: []string{"example.org"}},
		{fixture: "plain_jwks.json",
			wantErr: `key.jwt is a plain JWKS, which names no trust domain: spiffe-helper writes {"<trust domain>": "<base64 JWKS>"}`},
		{fixture: "truncated.json",
			wantErr: "key.jwt is not JSON (spiffe-helper may be writing it): unexpected end of JSON input"},
		{fixture: "empty.json", wantErr: "key.jwt is empty (spiffe-helper may be writing it)"},
		{fixture: "not_json.txt",
			wantErr: "key.jwt is not JSON (spiffe-helper may be writing it): invalid character 'e' looking for beginning of value"},
		{fixture: "empty_object.json", wantErr: "key.jwt names no trust domain"},
		{fixture: "array.json", wantErr: "key.jwt is not a JSON object mapping trust domains to base64 JWKS"},
		{fixture: "unpadded_base64.json",
			wantErr: `key.jwt: trust domain "example.org": the JWKS is not standard base64: illegal base64 data at input byte 12`},
		{fixture: "url_base64.json",
			wantErr: `key.jwt: trust domain "example.org": the JWKS is not standard base64: illegal base64 data at input byte 27`},
		{fixture: "not_a_jwks.json",
			wantErr: `key.jwt: trust domain "example.org": the decoded value is not a JWKS (want {"keys": [...]})`},
		{fixture: "jwks_not_encoded.json",
			wantErr: `key.jwt: trust domain "example.org": the value is not a string of base64`},
		{fixture: "spiffe_id_as_trust_domain.json", wantErr: `key.jwt: "spiffe://example.org" is not a trust domain name`},
		{fixture: "upper_case_trust_domain.json", wantErr: `key.jwt: "Example.ORG" is not a trust domain name`},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "key_jwt", tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			got, err := spiffehelper.ParseJWTBundle(data)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseJWTBundle: %v", err)
			}
			var names []string
			for name, jwks := range got {
				names = append(names, name)
				var doc struct {
					Keys []map[string]any `json:"keys"`
				}
				if err := json.Unmarshal(jwks, &doc); err != nil {
					t.Fatalf("%s: JWKS is not JSON: %v", name, err)
				}
				for _, k := range doc.Keys {
					if k["kid"] == nil || k["alg"] != nil || k["use"] != nil {
						t.Fatalf("%s: key %v; want a kid and neither alg nor use, as spiffe-helper writes", name, k)
					}
				}
			}
			slices.Sort(names)
			if !slices.Equal(names, tt.wantNames) {
				t.Fatalf("trust domains %q; want %q", names, tt.wantNames)
			}
		})
	}
}

func TestParseJWTBundleSizeCap(t *testing.T) {
	big := make([]byte, spiffehelper.MaxJWTBundleBytes+1)
	_, err := spiffehelper.ParseJWTBundle(big)
	want := fmt.Sprintf("key.jwt is %d bytes, more than the %d allowed", len(big), spiffehelper.MaxJWTBundleBytes)
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v; want %s", err, want)
	}
}

func TestParseTokenFile(t *testing.T) {
	const jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	tests := []struct {
		name    string
		data    string
		want    string
		wantErr string
	}{
		{name: "as spiffe-helper writes it", data: jwt, want: jwt},
		{name: "trailing newline", data: jwt + "\n", want: jwt},
		{name: "trailing CRLF and spaces", data: jwt + " \r\n", want: jwt},
		{name: "empty", data: "", wantErr: "jwt_svid.token is empty (spiffe-helper may be writing it)"},
		{name: "only a newline", data: "\n", wantErr: "jwt_svid.token is empty (spiffe-helper may be writing it)"},
		{name: "cut after the payload", data: jwt[:len(jwt)-4],
			wantErr: "jwt_svid.token is not a JWT in compact form (three base64url parts joined by dots)"},
		{name: "cut inside the header", data: jwt[:10],
			wantErr: "jwt_svid.token is not a JWT in compact form (three base64url parts joined by dots)"},
		{name: "leading white space", data: " " + jwt,
			wantErr: "jwt_svid.token is not a JWT in compact form (three base64url parts joined by dots)"},
		{name: "two tokens", data: jwt + "\n" + jwt,
			wantErr: "jwt_svid.token is not a JWT in compact form (three base64url parts joined by dots)"},
		{name: "standard base64", data: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2+/",
			wantErr: "jwt_svid.token is not a JWT in compact form (three base64url parts joined by dots)"},
		{name: "newline inside a part", data: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIi\nOiJ4In0.c2ln",
			wantErr: "jwt_svid.token is not a JWT in compact form (three base64url parts joined by dots)"},
		{name: "JWE", data: "a.b.c.d.e",
			wantErr: "jwt_svid.token is not a JWT in compact form (three base64url parts joined by dots)"},
		{name: "too large", data: jwt + string(make([]byte, spiffehelper.MaxTokenFileBytes)),
			wantErr: fmt.Sprintf("jwt_svid.token is %d bytes, more than the %d allowed", len(jwt)+spiffehelper.MaxTokenFileBytes, spiffehelper.MaxTokenFileBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := spiffehelper.ParseTokenFile([]byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseTokenFile = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
