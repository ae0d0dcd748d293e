package sharedsecret_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slimid/slimid/plugins/sharedsecret"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/sdktest"
)

const (
	testSecret = "0123456789abcdef0123456789abcdef-test"
	testConfig = "id: org/ns/alice\ndata: " + testSecret + "\n"
)

func configured(t testing.TB, config string) *sharedsecret.Plugin {
	t.Helper()
	p := sharedsecret.New()
	if _, err := p.Configure(context.Background(), []byte(config)); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return p
}

func TestConformance(t *testing.T) {
	other := configured(t, "id: org/ns/mallory\ndata: another-secret-of-at-least-32-bytes!!\n")
	sdktest.Run(t, sdktest.Suite{
		NewPlugin:      func() sdk.Plugin { return sharedsecret.New() },
		Binary:         "github.com/slimid/slimid/cmd/slimid-plugin-sharedsecret",
		Config:         []byte(testConfig),
		Audiences:      []string{"slim"},
		ChecksAudience: true,
		InvalidConfigs: []sdktest.InvalidConfig{
			{Name: "short secret", Config: []byte("id: a\ndata: short\n"), Want: "secret is 5 bytes; it must be at least 32 bytes"},
			{Name: "unknown key", Config: []byte(testConfig + "secrets: x\n"), Want: `unknown key "secrets" at the top level (line 3)`},
		},
		Rejected: []sdktest.RejectedToken{{
			Name:   "signed with another secret",
			Reason: sdk.ErrInvalid,
			Token: func(t testing.TB) string {
				tok, err := other.FetchToken(context.Background(), sdk.TokenRequest{Audiences: []string{"slim"}})
				if err != nil {
					t.Fatal(err)
				}
				return tok.Value
			},
		}},
	})
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, config, want string
	}{
		{"no id", "data: " + testSecret, `id: id is empty`},
		{"colon in id", "id: a:b\ndata: " + testSecret, `id: id "a:b" contains ':'`},
		{"space in id", "id: 'a b'\ndata: " + testSecret, `id: id "a b" contains white space`},
		{"no secret", "id: a", "no secret: set data (inline) or file"},
		{"both secrets", "id: a\ndata: " + testSecret + "\nfile: " + secretFile, "set either data or file for the secret, not both"},
		{"short secret", "id: a\ndata: 0123456789abcdef0123456789abcde", "secret is 31 bytes; it must be at least 32 bytes"},
		{"missing file", "id: a\nfile: " + filepath.Join(dir, "nope"), "read secret file: open " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"unknown key", "id: a\ndata: " + testSecret + "\nreplay_cache: {enabled: true, size: 3}", `unknown key "size" at replay_cache (line 3)`},
		{"bad window", "id: a\ndata: " + testSecret + "\nvalidity_window: 1500ms", "validity_window 1.5s must be a whole number of seconds, at least 1s"},
		{"bad skew", "id: a\ndata: " + testSecret + "\nclock_skew: 1h", "clock_skew 1h0m0s must be whole seconds between 1s and 5m"},
		{"reserved claim", "id: a\ndata: " + testSecret + "\nclaims: {sub: x}", `claims: "sub" is set by the plugin and cannot be configured`},
		{"max without cache", "id: a\ndata: " + testSecret + "\nreplay_cache: {max_entries: 5}", "replay_cache.max_entries is set but replay_cache.enabled is false"},
		{"not yaml", "id: [", "config is not valid YAML: [1:5] sequence end token ']' not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sharedsecret.New().ValidateConfig(context.Background(), []byte(tc.config))
			if !errors.Is(err, sdk.ErrInvalidConfig) || err.Error() != tc.want {
				t.Fatalf("ValidateConfig = %v; want %q", err, tc.want)
			}
		})
	}
	t.Run("secret file with trailing newline", func(t *testing.T) {
		fromFile := configured(t, "id: a\nrandom_suffix: false\nfile: "+secretFile)
		inline := configured(t, "id: a\nrandom_suffix: false\ndata: "+testSecret)
		tok, err := fromFile.FetchToken(context.Background(), sdk.TokenRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inline.Verify(context.Background(), sdk.VerifyRequest{Token: tok.Value}); err != nil {
			t.Fatalf("a secret read from a file must equal the same secret inline: %v", err)
		}
	})
}

func TestVerifyRejections(t *testing.T) {
	p := configured(t, testConfig)
	ctx := context.Background()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	good, err := p.FetchToken(ctx, sdk.TokenRequest{PublicKey: pub, Audiences: []string{"slim"}})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good.Value, ":")
	join := func(fields ...string) string { return strings.Join(fields, ":") }
	issued := good.IssuedAt
	for _, tc := range []struct {
		name   string
		token  string
		at     time.Time
		aud    []string
		reason error
		want   string
	}{
		{"four fields", join(parts[0], parts[1], parts[2], parts[4]), issued, nil, sdk.ErrInvalid, "shared-secret token has 4 fields, want 5 (id:timestamp:nonce:claims:mac)"},
		{"empty id", join("", parts[1], parts[2], parts[3], parts[4]), issued, nil, sdk.ErrInvalid, "shared-secret token: id is empty"},
		{"signed timestamp", join(parts[0], "+"+parts[1], parts[2], parts[3], parts[4]), issued, nil, sdk.ErrInvalid, `shared-secret token: timestamp "+` + parts[1] + `" is not unix seconds`},
		{"short nonce", join(parts[0], parts[1], "AAEC", parts[3], parts[4]), issued, nil, sdk.ErrInvalid, "shared-secret token: nonce is not 12 bytes of base64url"},
		{"padded mac", join(parts[0], parts[1], parts[2], parts[3], parts[4]+"="), issued, nil, sdk.ErrInvalid, "shared-secret token: mac is not 32 bytes of base64url"},
		{"altered id", join("org/ns/mallory", parts[1], parts[2], parts[3], parts[4]), issued, nil, sdk.ErrInvalid, "shared-secret token: MAC does not match (another secret, or the token was altered)"},
		{"expired", good.Value, issued.Add(time.Hour + time.Second), nil, sdk.ErrExpired, "shared-secret token expired 1s ago (validity window 3600s)"},
		{"from the future", good.Value, issued.Add(-6 * time.Second), nil, sdk.ErrNotYetValid, "shared-secret token is dated 6s in the future (clock skew allowed: 5s)"},
		{"other audience", good.Value, issued, []string{"other"}, sdk.ErrAudience, `shared-secret token is for ["slim"]; expected one of ["other"]`},
		{"oversized", strings.Repeat("a", sharedsecret.MaxTokenBytes+1), issued, nil, sdk.ErrInvalid, "shared-secret token is 8193 bytes, more than the 8192 allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Verify(ctx, sdk.VerifyRequest{Token: tc.token, At: tc.at, Audiences: tc.aud})
			if !errors.Is(err, tc.reason) || err.Error() != tc.want {
				t.Fatalf("Verify = %v; want %q (%v)", err, tc.want, tc.reason)
			}
		})
	}
	t.Run("edges of the window are accepted", func(t *testing.T) {
		for _, at := range []time.Time{issued.Add(time.Hour), issued.Add(-5 * time.Second)} {
			if _, err := p.Verify(ctx, sdk.VerifyRequest{Token: good.Value, At: at}); err != nil {
				t.Fatalf("Verify at %s: %v", at.Sub(issued), err)
			}
		}
	})
	t.Run("no audience in the token when one is expected", func(t *testing.T) {
		bare, _ := p.FetchToken(ctx, sdk.TokenRequest{})
		_, err := p.Verify(ctx, sdk.VerifyRequest{Token: bare.Value, Audiences: []string{"slim"}})
		if !errors.Is(err, sdk.ErrAudience) || err.Error() != `shared-secret token names no audience; expected one of ["slim"]` {
			t.Fatalf("Verify = %v", err)
		}
	})
}

func TestVerifiedIdentity(t *testing.T) {
	p := configured(t, testConfig+"claims: {team: a}\nvalidity_window: 10m\n")
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	tok, err := p.FetchToken(context.Background(), sdk.TokenRequest{PublicKey: pub, Audiences: []string{"slim", "x"}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: tok.Value, Audiences: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != tok.Subject || !strings.HasPrefix(id.Subject, "org/ns/alice_") {
		t.Fatalf("subject %q; token subject %q", id.Subject, tok.Subject)
	}
	if !id.ExpiresAt.Equal(tok.ExpiresAt) || id.ExpiresAt.Sub(id.IssuedAt) != 10*time.Minute {
		t.Fatalf("issued %s expires %s; token expires %s", id.IssuedAt, id.ExpiresAt, tok.ExpiresAt)
	}
	if string(id.PublicKey) != string(pub) {
		t.Fatal("bound key did not round-trip")
	}
	if id.Claims["team"] != "a" || id.Claims["sub"] != id.Subject || id.Claims["exp"] != id.ExpiresAt.Unix() {
		t.Fatalf("claims = %v", id.Claims)
	}
	if id.SingleUse {
		t.Fatal("SingleUse without a replay cache")
	}
}

func TestReplayCache(t *testing.T) {
	ctx := context.Background()
	p := configured(t, testConfig+"replay_cache: {enabled: true, max_entries: 2}\n")
	mint := func() sdk.Token {
		tok, err := p.FetchToken(ctx, sdk.TokenRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	first := mint()
	id, err := p.Verify(ctx, sdk.VerifyRequest{Token: first.Value})
	if err != nil || !id.SingleUse {
		t.Fatalf("first use: %+v, %v", id, err)
	}
	if _, err := p.Verify(ctx, sdk.VerifyRequest{Token: first.Value}); !errors.Is(err, sdk.ErrReplayed) {
		t.Fatalf("second use = %v; want replayed", err)
	}
	if _, err := p.Verify(ctx, sdk.VerifyRequest{Token: mint().Value}); err != nil {
		t.Fatal(err)
	}
	// Full of live tokens: refuse (an outage) rather than forget one.
	_, err = p.Verify(ctx, sdk.VerifyRequest{Token: mint().Value})
	if !errors.Is(err, sdk.ErrUnavailable) || errors.Is(err, sdk.ErrRejected) {
		t.Fatalf("third token with a full cache = %v; want unavailable", err)
	}
	// Once the first tokens expire, room frees up.
	later := first.IssuedAt.Add(time.Hour + 2*time.Second)
	if _, err := p.Verify(ctx, sdk.VerifyRequest{Token: first.Value, At: later}); !errors.Is(err, sdk.ErrExpired) {
		t.Fatalf("expired token = %v; want expired, not replayed", err)
	}
}

func TestRandomSuffixPerConfigure(t *testing.T) {
	a := configured(t, testConfig)
	b := configured(t, testConfig)
	ta, _ := a.FetchToken(context.Background(), sdk.TokenRequest{})
	tb, _ := b.FetchToken(context.Background(), sdk.TokenRequest{})
	if ta.Subject == tb.Subject {
		t.Fatalf("two configurations share the suffix %q", ta.Subject)
	}
	pinned := configured(t, testConfig+"random_suffix: false\n")
	tp, _ := pinned.FetchToken(context.Background(), sdk.TokenRequest{})
	if tp.Subject != "org/ns/alice" {
		t.Fatalf("subject %q; want org/ns/alice", tp.Subject)
	}
	// Same secret: every instance verifies the others' tokens.
	if _, err := b.Verify(context.Background(), sdk.VerifyRequest{Token: ta.Value}); err != nil {
		t.Fatal(err)
	}
}

// FetchToken never hands out a token its own Verify would refuse.
func TestFetchTokenRefusesOversizedRequests(t *testing.T) {
	p := configured(t, testConfig)
	ctx := context.Background()
	_, err := p.FetchToken(ctx, sdk.TokenRequest{PublicKey: make([]byte, 257)})
	if !errors.Is(err, sdk.ErrInvalidConfig) || err.Error() != "public key to bind is 257 bytes; MLS signature keys are at most 256" {
		t.Fatalf("oversized key = %v", err)
	}
	_, err = p.FetchToken(ctx, sdk.TokenRequest{Audiences: []string{strings.Repeat("a", 7000)}})
	if !errors.Is(err, sdk.ErrInvalidConfig) || !strings.HasPrefix(err.Error(), "the token would be ") {
		t.Fatalf("oversized audiences = %v", err)
	}
}

// With suffix_file the suffix is drawn once and kept: the identity is the
// same across configurations (restarts, reloads) of any number of plugins.
func TestSuffixFileKeepsTheIdentity(t *testing.T) {
	file := filepath.Join(t.TempDir(), "suffix")
	cfg := testConfig + "suffix_file: " + file + "\n"
	if _, err := sharedsecret.New().ValidateConfig(context.Background(), []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatal("ValidateConfig created the suffix file; it must have no side effects")
	}
	first, _ := configured(t, cfg).FetchToken(context.Background(), sdk.TokenRequest{})
	second, _ := configured(t, cfg).FetchToken(context.Background(), sdk.TokenRequest{})
	if first.Subject != second.Subject || !strings.HasPrefix(first.Subject, "org/ns/alice_") || len(first.Subject) != len("org/ns/alice_")+8 {
		t.Fatalf("subjects %q and %q; want one stable org/ns/alice_XXXXXXXX", first.Subject, second.Subject)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("suffix file: %v %v", fi, err)
	}
	if err := os.WriteFile(file, []byte("bad"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sharedsecret.New().ValidateConfig(context.Background(), []byte(cfg))
	if want := "suffix_file " + file + ` holds "bad"; want 8 letters or digits (delete it to draw a new one)`; err == nil || err.Error() != want {
		t.Fatalf("bad suffix file = %v; want %q", err, want)
	}
	_, err = sharedsecret.New().ValidateConfig(context.Background(), []byte(testConfig+"random_suffix: false\nsuffix_file: x\n"))
	if err == nil || err.Error() != "suffix_file keeps the random suffix: it needs random_suffix true" {
		t.Fatalf("suffix_file without random_suffix = %v", err)
	}
}
