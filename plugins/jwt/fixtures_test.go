package jwt_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/slimid/slimid/plugins/jwt"
	"github.com/slimid/slimid/sdk"
)

// newPlugin returns a plugin with its own metrics registry, closed when the
// test ends.
func newPlugin(t testing.TB, opts ...jwt.Option) (*jwt.Plugin, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	p := jwt.NewWithOptions(append([]jwt.Option{jwt.WithRegisterer(reg)}, opts...)...)
	t.Cleanup(func() { _ = p.Close() })
	return p, reg
}

func configure(t testing.TB, p *jwt.Plugin, config string) {
	t.Helper()
	if _, err := p.Configure(context.Background(), []byte(config)); err != nil {
		t.Fatalf("Configure: %v", err)
	}
}

// watch streams the plugin's snapshots into a channel until the test ends.
func watch(t testing.TB, p *jwt.Plugin) <-chan sdk.KeySnapshot {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan sdk.KeySnapshot, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.WatchKeys(ctx, func(s sdk.KeySnapshot) error {
			select {
			case ch <- s:
			case <-ctx.Done():
			}
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ch
}

// waitSnapshot returns the first snapshot that satisfies ok. The deadline
// only keeps a broken build from hanging; it asserts nothing about speed.
func waitSnapshot(t testing.TB, ch <-chan sdk.KeySnapshot, what string, ok func(sdk.KeySnapshot) bool) sdk.KeySnapshot {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case s := <-ch:
			if ok(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("no snapshot with %s was published", what)
		}
	}
}

// kids lists the kids of every key the snapshot publishes.
func kids(s sdk.KeySnapshot) []string {
	var out []string
	for _, ks := range s.KeySets {
		set, err := jwk.Parse(ks.JWKS)
		if err != nil {
			continue
		}
		for i := range set.Len() {
			k, _ := set.Key(i)
			out = append(out, k.KeyID())
		}
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// privateKey loads a PKCS#8 PEM fixture.
func privateKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	k, err := jwk.ParseKey(readFile(t, filepath.Join("testdata", name)), jwk.WithPEM(true))
	if err != nil {
		t.Fatal(err)
	}
	var raw any
	if err := k.Raw(&raw); err != nil {
		t.Fatal(err)
	}
	return raw.(crypto.Signer)
}

// jwksOf is a JWKS holding the public halves of keys, by kid.
func jwksOf(t testing.TB, keys map[string]crypto.Signer) []byte {
	t.Helper()
	set := jwk.NewSet()
	for kid, k := range keys {
		pub, err := jwk.FromRaw(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		_ = pub.Set(jwk.KeyIDKey, kid)
		_ = set.AddKey(pub)
	}
	doc, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// payload decodes a token's claims without checking it.
func payload(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := splitToken(t, token)
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func header(t testing.TB, token string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(splitToken(t, token)[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func splitToken(t testing.TB, token string) []string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	return parts
}

// wantErr checks an error's class and exact text.
func wantErr(t testing.TB, err, kind error, text string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %q", text)
	}
	if !errors.Is(err, kind) || err.Error() != text {
		t.Fatalf("error = %q\nwant    %q (%v)", err, text, kind)
	}
}
