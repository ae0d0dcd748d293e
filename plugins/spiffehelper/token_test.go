package spiffehelper_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/slimid/slimid/sdk"
)

func writeFile(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
}

func TestFetchTokenHandsOutOnlyWhatFits(t *testing.T) {
	dir := t.TempDir()
	writeFixture(t, dir) // binds fixtureKey
	unbound := t.TempDir()
	ua := newAuthority(t, "example.org")
	writeFile(t, unbound, "key.jwt", keyJWT(t, ua))
	writeFile(t, unbound, "jwt_svid.token", []byte(ua.sign(t, svidClaims{})))

	otherKey, _, _ := ed25519.GenerateKey(nil)
	tests := []struct {
		name    string
		dir     string
		req     sdk.TokenRequest
		wantErr string
	}{
		{name: "no audience named", dir: dir},
		{name: "its audience", dir: dir, req: sdk.TokenRequest{Audiences: []string{"slim-demo"}}},
		{name: "the key it binds", dir: dir, req: sdk.TokenRequest{PublicKey: fixtureKey, TTLHint: time.Minute}},
		{name: "another audience", dir: dir, req: sdk.TokenRequest{Audiences: []string{"slim-demo", "other"}},
			wantErr: `not supported by this plugin: the JWT-SVID in DIR/jwt_svid.token is for ["slim-demo"], not "other"; spiffe-helper's jwt_audience fixes its audiences`},
		{name: "another key", dir: dir, req: sdk.TokenRequest{PublicKey: otherKey},
			wantErr: "not supported by this plugin: the JWT-SVID in DIR/jwt_svid.token binds another public key than the one requested"},
		{name: "a key when it binds none", dir: unbound, req: sdk.TokenRequest{PublicKey: otherKey},
			wantErr: "not supported by this plugin: the JWT-SVID in DIR/jwt_svid.token binds no public key and spiffe-helper cannot bind one; use the spire plugin to mint tokens that carry it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, _ := configured(t, tt.dir, "")
			wantErr := strings.ReplaceAll(tt.wantErr, "DIR", tt.dir)
			tok, err := p.FetchToken(t.Context(), tt.req)
			if wantErr == "" {
				if err != nil {
					t.Fatalf("FetchToken: %v", err)
				}
				if tok.Subject != "spiffe://example.org/workload" || !tok.ExpiresAt.After(time.Now()) || tok.IssuedAt.IsZero() {
					t.Fatalf("FetchToken = %+v; want the workload's live token", tok)
				}
				return
			}
			if err == nil || err.Error() != wantErr {
				t.Fatalf("FetchToken error = %v\nwant %s", err, wantErr)
			}
			if !errors.Is(err, sdk.ErrUnsupported) {
				t.Fatalf("FetchToken error %v is not ErrUnsupported", err)
			}
			err = p.WatchToken(t.Context(), tt.req, func(sdk.Token) error { return errors.New("pushed a token that does not fit") })
			if err == nil || err.Error() != wantErr {
				t.Fatalf("WatchToken error = %v\nwant %s", err, wantErr)
			}
		})
	}
}

// TestKeepsTheLastGoodToken writes each kind of bad token file over a good
// one and waits until the plugin has read and refused it: the good token
// stays in force, and the next good token is pushed.
func TestKeepsTheLastGoodToken(t *testing.T) {
	dir := t.TempDir()
	a := newAuthority(t, "example.org")
	other := newAuthority(t, "other.org")
	forger := newAuthority(t, "example.org")
	forger.keys[0].kid = "kid-unknown"
	writeFile(t, dir, "key.jwt", keyJWT(t, a))
	good := a.sign(t, svidClaims{issuedAt: time.Now().Add(-time.Minute), jti: "good"})
	writeFile(t, dir, "jwt_svid.token", []byte(good))
	p, tap, _ := configured(t, dir, "")
	pushed := watchTokens(t, p, sdk.TokenRequest{})
	if next(t, pushed).Value != good {
		t.Fatal("first push is not the token on disk")
	}
	newer := a.sign(t, svidClaims{jti: "newer"})

	tests := []struct {
		name   string
		data   string
		reason string
	}{
		{"empty", "", "jwt_svid.token is empty (spiffe-helper may be writing it)"},
		{"cut in the payload", newer[:len(newer)/2], "jwt_svid.token is not a JWT in compact form"},
		{"signature altered", newer[:len(newer)-4] + "AAAA", `jwt_svid.token: signature does not verify with key "kid-example.org-1"`},
		{"stale", a.sign(t, svidClaims{issuedAt: time.Now().Add(-2 * time.Minute)}), "a stale write is not taken"},
		{"cut in the signature", newer[:len(newer)-1], "jwt_svid.token is not a JWT in compact form"},
		{"expired", a.sign(t, svidClaims{issuedAt: time.Now().Add(-time.Hour), expiresAt: time.Now().Add(-10 * time.Minute)}), "jwt_svid.token: token expired at"},
		{"expired within leeway", a.sign(t, svidClaims{issuedAt: time.Now().Add(-time.Second), expiresAt: time.Now().Add(-time.Second)}), "jwt_svid.token expired at"},
		{"unknown kid", forger.sign(t, svidClaims{}), `jwt_svid.token is not signed by a key in key.jwt (jwtverify: cannot decide with the published keys: kid "kid-unknown" is not among the published keys)`},
		{"trust domain not in key.jwt", other.sign(t, svidClaims{}), `jwt_svid.token is not signed by a key in key.jwt (jwtverify: cannot decide with the published keys: no key set trusts issuer "" or subject "spiffe://other.org/workload")`},
		{"no audience", a.sign(t, svidClaims{audiences: []string{}}), "jwt_svid.token names no audience: set jwt_audience in spiffe-helper's jwt_svids"},
		{"not a token", "hello\n", "jwt_svid.token is not a JWT in compact form"},
	}
	// Neighbouring cases are refused for different reasons, so a retry of
	// one case cannot stand in for the next.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := tap.mark()
			writeFile(t, dir, "jwt_svid.token", []byte(tt.data))
			tap.wait(t, from, "file not taken yet", tt.reason)
			tok, err := p.FetchToken(t.Context(), sdk.TokenRequest{})
			if err != nil || tok.Value != good {
				t.Fatalf("FetchToken = %v; want the last good token", err)
			}
			if st := p.Status(t.Context()); !st.Ready {
				t.Fatalf("Status = %+v; want ready", st)
			}
		})
	}
	writeFile(t, dir, "jwt_svid.token", []byte(newer))
	if got := next(t, pushed); got.Value != newer {
		t.Fatal("WatchToken pushed something other than the next good token")
	}
}

func TestStatusAndGauges(t *testing.T) {
	dir := t.TempDir()
	a := newAuthority(t, "example.org")
	issued := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
	writeFile(t, dir, "key.jwt", keyJWT(t, a))
	writeFile(t, dir, "jwt_svid.token", []byte(a.sign(t, svidClaims{issuedAt: issued, expiresAt: issued.Add(12 * time.Minute)})))
	p, _, reg := configured(t, dir, "")
	tokenFile := filepath.Join(dir, "jwt_svid.token")

	st := p.Status(t.Context())
	if !st.Ready || !st.TokenIssuedAt.Equal(issued) || !st.TokenExpiresAt.Equal(issued.Add(12*time.Minute)) ||
		!strings.HasPrefix(st.Message, "JWT-SVID for spiffe://example.org/workload expires in ") {
		t.Fatalf("Status = %+v; want ready with the token's times", st)
	}
	gauges := gather(t, reg, tokenFile)
	if age := gauges["slimid_spiffehelper_token_age_seconds"]; age < 120 || age > 600 {
		t.Fatalf("token age gauge %v; want about 120", age)
	}
	if left := gauges["slimid_spiffehelper_token_expiry_seconds"]; left > 600 || left < 0 {
		t.Fatalf("token expiry gauge %v; want about 600", left)
	}

	// A token that runs out while spiffe-helper writes no new one.
	short := a.sign(t, svidClaims{issuedAt: time.Now(), expiresAt: time.Now().Add(time.Second)})
	pushed := watchTokens(t, p, sdk.TokenRequest{})
	next(t, pushed)
	writeFile(t, dir, "jwt_svid.token", []byte(short))
	if next(t, pushed).Value != short {
		t.Fatal("the short-lived token was not taken")
	}
	deadline := time.Now().Add(hangGuard)
	for p.Status(t.Context()).Ready {
		if time.Now().After(deadline) {
			t.Fatal("still ready after the token expired")
		}
		time.Sleep(50 * time.Millisecond)
	}
	st = p.Status(t.Context())
	wantMsg := fmt.Sprintf("the JWT-SVID in %s expired at %s and spiffe-helper has not written a new one",
		tokenFile, st.TokenExpiresAt.UTC().Format(time.RFC3339))
	if st.Message != wantMsg {
		t.Fatalf("Status message %q; want %q", st.Message, wantMsg)
	}
	if _, err := p.FetchToken(t.Context(), sdk.TokenRequest{}); err == nil || err.Error() != wantMsg || !errors.Is(err, sdk.ErrUnavailable) {
		t.Fatalf("FetchToken = %v; want the outage %q", err, wantMsg)
	}
	if left := gather(t, reg, tokenFile)["slimid_spiffehelper_token_expiry_seconds"]; left >= 0 {
		t.Fatalf("token expiry gauge %v; want it negative once expired", left)
	}
}

// gather reads the plugin's gauges for one token file.
func gather(t *testing.T, reg interface {
	Gather() ([]*dto.MetricFamily, error)
}, tokenFile string) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "token_file" && l.GetValue() == tokenFile {
					out[f.GetName()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	if len(out) != 2 {
		t.Fatalf("gauges for %s: %v; want age and expiry", tokenFile, out)
	}
	return out
}
