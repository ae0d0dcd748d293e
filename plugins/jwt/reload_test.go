package jwt_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/slimid/slimid/sdk"
)

func newKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyFileReload(t *testing.T) {
	if testing.Short() {
		t.Skip("watches real directories; run without -short: go test ./plugins/jwt/...")
	}
	a, b := newKey(t), newKey(t)
	jwksA := jwksOf(t, map[string]crypto.Signer{"a": a})
	jwksB := jwksOf(t, map[string]crypto.Signer{"b": b})

	tests := []struct {
		name string
		// layout prepares dir and returns the path to configure.
		layout func(t *testing.T, dir string) string
		// rotate replaces the keys with jwksB.
		rotate func(t *testing.T, dir string)
	}{
		{
			name: "in-place write",
			layout: func(t *testing.T, dir string) string {
				writeFile(t, filepath.Join(dir, "keys.jwks"), jwksA)
				return filepath.Join(dir, "keys.jwks")
			},
			rotate: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "keys.jwks"), jwksB) },
		},
		{
			name: "rename over the file",
			layout: func(t *testing.T, dir string) string {
				writeFile(t, filepath.Join(dir, "keys.jwks"), jwksA)
				return filepath.Join(dir, "keys.jwks")
			},
			rotate: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, ".keys.jwks.tmp"), jwksB)
				if err := os.Rename(filepath.Join(dir, ".keys.jwks.tmp"), filepath.Join(dir, "keys.jwks")); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "Kubernetes ..data symlink swap",
			layout: func(t *testing.T, dir string) string {
				mustMkdir(t, filepath.Join(dir, "..2026_12_04_a"))
				writeFile(t, filepath.Join(dir, "..2026_12_04_a", "keys.jwks"), jwksA)
				mustSymlink(t, "..2026_12_04_a", filepath.Join(dir, "..data"))
				mustSymlink(t, filepath.Join("..data", "keys.jwks"), filepath.Join(dir, "keys.jwks"))
				return filepath.Join(dir, "keys.jwks")
			},
			rotate: func(t *testing.T, dir string) {
				mustMkdir(t, filepath.Join(dir, "..2026_12_04_b"))
				writeFile(t, filepath.Join(dir, "..2026_12_04_b", "keys.jwks"), jwksB)
				mustSymlink(t, "..2026_12_04_b", filepath.Join(dir, "..data_tmp"))
				if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
					t.Fatal(err)
				}
				if err := os.RemoveAll(filepath.Join(dir, "..2026_12_04_a")); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tt.layout(t, dir)
			p, _ := newPlugin(t)
			configure(t, p, "verifier:\n  claims: {issuer: corp-issuer, audience: [slim]}\n  key: {type: decoding, format: jwks, key: {file: "+path+"}}\n")
			snaps := watch(t, p)
			first := waitSnapshot(t, snaps, "key a", func(s sdk.KeySnapshot) bool { return slices.Equal(kids(s), []string{"a"}) })
			tokA := signConformanceWith(t, a, "a")
			if _, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: tokA}); err != nil {
				t.Fatalf("Verify(token of a): %v", err)
			}

			tt.rotate(t, dir)
			next := waitSnapshot(t, snaps, "key b only", func(s sdk.KeySnapshot) bool { return slices.Equal(kids(s), []string{"b"}) })
			if next.Generation <= first.Generation {
				t.Fatalf("generation %d after %d; want it to grow", next.Generation, first.Generation)
			}
			// The withdrawn key stops verifying as soon as it is published.
			_, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: tokA})
			wantErr(t, err, sdk.ErrUntrusted, `kid "a" is not among the published keys`)
			if _, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: signConformanceWith(t, b, "b")}); err != nil {
				t.Fatalf("Verify(token of b): %v", err)
			}
		})
	}
}

// TestBadKeyFileKeepsLastGoodKeys checks that a file that fails to parse is
// reported and changes nothing, and that the next good write is picked up.
func TestBadKeyFileKeepsLastGoodKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("watches real directories; run without -short: go test ./plugins/jwt/...")
	}
	a, b := newKey(t), newKey(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.jwks")
	writeFile(t, path, jwksOf(t, map[string]crypto.Signer{"a": a}))
	p, reg := newPlugin(t)
	configure(t, p, "verifier:\n  claims: {issuer: corp-issuer, audience: [slim]}\n  key: {type: decoding, format: jwks, key: {file: "+path+"}}\n")
	snaps := watch(t, p)
	first := waitSnapshot(t, snaps, "key a", func(s sdk.KeySnapshot) bool { return slices.Equal(kids(s), []string{"a"}) })

	writeFile(t, path, []byte(`{"keys": [`))
	eventually(t, "a reload error is counted", func() bool { return counter(t, reg, "slimid_jwt_key_reload_errors_total") >= 1 })
	if _, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: signConformanceWith(t, a, "a")}); err != nil {
		t.Fatalf("Verify with the last good keys: %v", err)
	}

	writeFile(t, path, jwksOf(t, map[string]crypto.Signer{"b": b}))
	next := waitSnapshot(t, snaps, "key b", func(s sdk.KeySnapshot) bool { return slices.Equal(kids(s), []string{"b"}) })
	if next.Generation != first.Generation+1 {
		t.Fatalf("generation %d; want %d: the bad file must not have published anything", next.Generation, first.Generation+1)
	}
}

// TestProviderKeyReload checks that a rewritten signing key is used for the
// next token.
func TestProviderKeyReload(t *testing.T) {
	if testing.Short() {
		t.Skip("watches real directories; run without -short: go test ./plugins/jwt/...")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "signing.pem")
	writeFile(t, path, readFile(t, "testdata/es256_private.pem"))
	p, _ := newPlugin(t)
	configure(t, p, "provider:\n  claims: {issuer: corp-issuer, audience: [slim], subject: org/ns/alice}\n  key: {type: encoding, format: pem, key: {file: "+path+"}}\n")

	writeFile(t, path, readFile(t, "testdata/conformance_es256_private.pem"))
	verifier, _ := newPlugin(t)
	configure(t, verifier, conformanceConfig)
	eventually(t, "tokens signed with the new key", func() bool {
		tok, err := p.FetchToken(context.Background(), sdk.TokenRequest{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = verifier.Verify(context.Background(), sdk.VerifyRequest{Token: tok.Value})
		if err != nil && !errors.Is(err, sdk.ErrInvalid) {
			t.Fatalf("Verify: %v", err)
		}
		return err == nil
	})
}

func signConformanceWith(t testing.TB, key crypto.Signer, kid string) string {
	return signWith(t, jwa.ES256, key, map[string]any{"kid": kid}, conformanceClaims(nil))
}

// eventually polls cond until it holds. The deadline only keeps a broken
// build from hanging; it asserts nothing about speed.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counter sums a counter family in reg.
func counter(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

func mustMkdir(t testing.TB, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
