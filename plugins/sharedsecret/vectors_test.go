package sharedsecret

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/slimid/slimid/sdk"
)

type vectorFile struct {
	Secret    string `json:"secret"`
	ID        string `json:"id"`
	Timestamp int64  `json:"timestamp"`
	NonceHex  string `json:"nonce_hex"`
	PubKey    string `json:"pubkey"`
	Vectors   []struct {
		Name       string `json:"name"`
		ClaimsJSON string `json:"claims_json"`
		Token      string `json:"token"`
	} `json:"vectors"`
}

func loadVectors(t *testing.T) vectorFile {
	t.Helper()
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// A token minted by SLIM (computed independently, see testdata/vectors.md)
// verifies here, and our minting reproduces it byte for byte.
func TestVectors(t *testing.T) {
	v := loadVectors(t)
	p := New()
	cfg := fmt.Sprintf("id: %s\nrandom_suffix: false\ndata: %q\n", v.ID, v.Secret)
	if _, err := p.Configure(context.Background(), []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	nonce, _ := hex.DecodeString(v.NonceHex)
	wantKey, _ := base64.StdEncoding.DecodeString(v.PubKey)
	at := time.Unix(v.Timestamp+10, 0)
	for _, vec := range v.Vectors {
		t.Run(vec.Name, func(t *testing.T) {
			id, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: vec.Token, At: at})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if id.Subject != v.ID || id.IssuedAt.Unix() != v.Timestamp || id.ExpiresAt.Unix() != v.Timestamp+3600 {
				t.Fatalf("identity = %+v", id)
			}
			var claims map[string]any
			if vec.ClaimsJSON != "" {
				if err := json.Unmarshal([]byte(vec.ClaimsJSON), &claims); err != nil {
					t.Fatal(err)
				}
				if string(id.PublicKey) != string(wantKey) {
					t.Fatalf("public key = %x; want %x", id.PublicKey, wantKey)
				}
			}
			got, err := mint([]byte(v.Secret), v.ID, time.Unix(v.Timestamp, 0), nonce, claims)
			if err != nil {
				t.Fatal(err)
			}
			if got != vec.Token {
				t.Fatalf("mint =\n%s\nwant\n%s", got, vec.Token)
			}
		})
	}
}

// Our tokens follow the format field by field: what SLIM's verifier parses.
func TestMintedTokenShape(t *testing.T) {
	p := New()
	if _, err := p.Configure(context.Background(), []byte("id: org/ns/bob\ndata: 0123456789abcdef0123456789abcdef\n")); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 65)
	key[0] = 4
	tok, err := p.FetchToken(context.Background(), sdk.TokenRequest{PublicKey: key})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := parse(tok.Value)
	if err != nil {
		t.Fatal(err)
	}
	if len(parsed.id) != len("org/ns/bob_")+8 || parsed.id[:11] != "org/ns/bob_" {
		t.Fatalf("id %q: want org/ns/bob_ and 8 alphanumerics", parsed.id)
	}
	if len(parsed.nonce) != 16 {
		t.Fatalf("nonce %q: want 16 base64url characters", parsed.nonce)
	}
	claims, err := decodeClaims(parsed.claims)
	if err != nil {
		t.Fatal(err)
	}
	if claims["pubkey"] != base64.StdEncoding.EncodeToString(key) || len(claims) != 1 {
		t.Fatalf("claims = %v; want only pubkey", claims)
	}
	if macLen := len(tok.Value) - len(parsed.signed) - 1; macLen != 43 {
		t.Fatalf("mac is %d characters; want 43", macLen)
	}
}
