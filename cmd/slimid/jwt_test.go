package main_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// The jwt plugin through the CLI: a token minted with an ES256 PEM key
// verifies with a PEM decoding key and with a JWKS decoding key, for its
// audience only.
func TestJWTTokenAndVerify(t *testing.T) {
	keys, err := filepath.Abs("../../plugins/jwt/testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, decoding string }{
		{"pem", fmt.Sprintf("{type: decoding, algorithm: ES256, format: pem, key: {file: %s/es256_public.pem}}", keys)},
		{"jwks", fmt.Sprintf("{type: decoding, algorithm: ES256, format: jwks, key: {file: %s/members.jwks}}", keys)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeConfig(t, t.TempDir(), fmt.Sprintf(`plugins:
  - name: corp
    type: jwt
    config:
      provider:
        claims: {issuer: corp-issuer, audience: [slim], subject: org/ns/alice}
        duration: 1h
        kid: es256-1
        key: {type: encoding, algorithm: ES256, format: pem, key: {file: %s/es256_private.pem}}
      verifier:
        claims: {issuer: corp-issuer, audience: [slim]}
        key: %s
`, keys, tc.decoding))
			tok, stderr, code := run(t, nil, "", "token", "--config", cfg, "--plugin", "corp", "--audience", "slim", "--pubkey", "AQIDBA==")
			if code != 0 {
				t.Fatalf("token: exit %d: %s", code, stderr)
			}
			out, stderr, code := run(t, nil, tok, "verify", "--config", cfg, "--plugin", "corp", "--audience", "slim")
			if code != 0 || !strings.Contains(out, `"subject": "org/ns/alice"`) || !strings.Contains(out, `"public_key": "AQIDBA=="`) || !strings.Contains(out, `"issuer": "corp-issuer"`) {
				t.Fatalf("verify: exit %d: %s %s", code, out, stderr)
			}
			_, stderr, code = run(t, nil, tok, "verify", "--config", cfg, "--plugin", "corp", "--audience", "other")
			if code != 1 || !strings.Contains(stderr, "audience") {
				t.Fatalf("verify --audience other: exit %d, %q; want 1 with an audience reason", code, stderr)
			}
		})
	}
}
