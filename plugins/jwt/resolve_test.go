package jwt_test

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/slimid/slimid/plugins/jwt"
	"github.com/slimid/slimid/sdk"
)

// issuer is an OpenID provider on a real TLS server: discovery document,
// JWKS, rotation and failures on demand.
type issuer struct {
	t   testing.TB
	srv *httptest.Server

	mu   sync.Mutex
	keys map[string]crypto.Signer
	// cacheControl is sent with the JWKS.
	cacheControl string
	// discovery edits the discovery document; nil serves none (404).
	discovery func(doc map[string]any)
	// status, when set, answers every request.
	status int
	// gate, when set, holds JWKS responses until it is closed.
	gate chan struct{}
	// arrived is signalled when a JWKS request comes in.
	arrived chan struct{}
	hits    map[string]int
}

func newIssuer(t testing.TB, keys map[string]crypto.Signer) *issuer {
	t.Helper()
	is := &issuer{t: t, keys: keys, hits: map[string]int{}, discovery: func(map[string]any) {}, arrived: make(chan struct{}, 100)}
	is.srv = httptest.NewTLSServer(http.HandlerFunc(is.serve))
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) url() string { return is.srv.URL }

func (is *issuer) serve(w http.ResponseWriter, r *http.Request) {
	is.mu.Lock()
	is.hits[r.URL.Path]++
	status, gate, discovery := is.status, is.gate, is.discovery
	keys := maps.Clone(is.keys)
	cacheControl := is.cacheControl
	is.mu.Unlock()
	if status != 0 {
		http.Error(w, "unavailable", status)
		return
	}
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		if discovery == nil {
			http.NotFound(w, r)
			return
		}
		doc := map[string]any{"issuer": is.url(), "jwks_uri": is.url() + "/oauth/keys"}
		discovery(doc)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, string(mustJSON(is.t, doc)))
	case "/oauth/keys", "/.well-known/jwks.json":
		select {
		case is.arrived <- struct{}{}:
		default:
		}
		if gate != nil {
			<-gate
		}
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwksOf(is.t, keys))
	default:
		http.NotFound(w, r)
	}
}

func (is *issuer) set(f func(is *issuer)) {
	is.mu.Lock()
	defer is.mu.Unlock()
	f(is)
}

func (is *issuer) count(path string) int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.hits[path]
}

// token signs claims from this issuer with key under kid.
func (is *issuer) token(t testing.TB, key crypto.Signer, kid string) string {
	return signWith(t, jwa.ES256, key, map[string]any{"kid": kid}, conformanceClaims(map[string]any{"iss": is.url()}))
}

func autoresolvePlugin(t testing.TB, is *issuer, cooldown string) *jwt.Plugin {
	t.Helper()
	p, _ := newPlugin(t, jwt.WithHTTPClient(is.srv.Client()))
	configure(t, p, fmt.Sprintf("verifier:\n  claims: {audience: [slim]}\n  key: {type: autoresolve, issuers: [%q], refresh_cooldown: %s}\n", is.url(), cooldown))
	return p
}

func sortedKids(s sdk.KeySnapshot) []string {
	k := kids(s)
	sort.Strings(k)
	return k
}

// TestAutoresolveRotation follows a key rotation at the issuer: a new kid
// is picked up on first use without a restart, the old key keeps verifying
// during the overlap, and its withdrawal is published and enforced.
func TestAutoresolveRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a TLS issuer and waits for cache expiry; run without -short: go test ./plugins/jwt/...")
	}
	k1, k2 := newKey(t), newKey(t)
	is := newIssuer(t, map[string]crypto.Signer{"k1": k1})
	is.cacheControl = "public, max-age=1"
	p := autoresolvePlugin(t, is, "0s")
	snaps := watch(t, p)
	ctx := context.Background()

	first := waitSnapshot(t, snaps, "k1", func(s sdk.KeySnapshot) bool { return slices.Equal(kids(s), []string{"k1"}) })
	if first.KeySets[0].Name != is.url() || !slices.Equal(first.KeySets[0].Rules.Issuers, []string{is.url()}) {
		t.Fatalf("key set = %+v", first.KeySets[0])
	}
	if _, err := p.Verify(ctx, sdk.VerifyRequest{Token: is.token(t, k1, "k1")}); err != nil {
		t.Fatalf("Verify(k1): %v", err)
	}

	is.set(func(is *issuer) { is.keys["k2"] = k2 })
	if _, err := p.Verify(ctx, sdk.VerifyRequest{Token: is.token(t, k2, "k2")}); err != nil {
		t.Fatalf("Verify(k2) after rotation: %v", err)
	}
	waitSnapshot(t, snaps, "k1 and k2", func(s sdk.KeySnapshot) bool { return slices.Equal(sortedKids(s), []string{"k1", "k2"}) })
	if _, err := p.Verify(ctx, sdk.VerifyRequest{Token: is.token(t, k1, "k1")}); err != nil {
		t.Fatalf("Verify(k1) during the overlap: %v", err)
	}

	// Withdrawal is found when the cache lifetime (max-age=1) ends.
	is.set(func(is *issuer) { delete(is.keys, "k1") })
	last := waitSnapshot(t, snaps, "k2 only", func(s sdk.KeySnapshot) bool { return slices.Equal(kids(s), []string{"k2"}) })
	if last.Generation <= first.Generation {
		t.Fatalf("generation %d after %d", last.Generation, first.Generation)
	}
	_, err := p.Verify(ctx, sdk.VerifyRequest{Token: is.token(t, k1, "k1")})
	wantErr(t, err, sdk.ErrUntrusted, `kid "k1" is not among the published keys`)
	if is.count("/.well-known/openid-configuration") == 0 {
		t.Fatal("discovery was never asked")
	}
}

// TestAutoresolveSharesFetches checks that misses during a fetch join it,
// and that misses within the cooldown fetch nothing.
func TestAutoresolveSharesFetches(t *testing.T) {
	k1 := newKey(t)
	is := newIssuer(t, map[string]crypto.Signer{"k1": k1})
	is.gate = make(chan struct{})
	p := autoresolvePlugin(t, is, "1h")
	<-is.arrived // the first fetch is under way and held

	const callers = 16
	var started, wg sync.WaitGroup
	errs := make(chan error, callers)
	started.Add(callers)
	for range callers {
		wg.Go(func() {
			started.Done()
			_, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: is.token(t, k1, "k1")})
			errs <- err
		})
	}
	started.Wait()
	// Give the callers a moment to reach the held fetch. The outcome does
	// not depend on it: late callers find the cooldown and the new keys.
	time.Sleep(50 * time.Millisecond)
	close(is.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	for i := range 10 {
		_, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: is.token(t, k1, fmt.Sprintf("random-%d", i))})
		wantErr(t, err, sdk.ErrUntrusted, fmt.Sprintf(`kid "random-%d" is not among the published keys`, i))
	}
	if n := is.count("/oauth/keys"); n != 1 {
		t.Fatalf("JWKS fetched %d times; want 1", n)
	}
}

// TestAutoresolveOutage checks that an issuer that cannot be reached yields
// an outage, never an accept, and that other issuers are not fetched.
func TestAutoresolveOutage(t *testing.T) {
	k1 := newKey(t)
	is := newIssuer(t, map[string]crypto.Signer{"k1": k1})
	is.status = http.StatusServiceUnavailable
	p, reg := newPlugin(t, jwt.WithHTTPClient(is.srv.Client()))
	configure(t, p, fmt.Sprintf("verifier:\n  claims: {audience: [slim]}\n  key: {type: autoresolve, issuers: [%q], refresh_cooldown: 0s}\n", is.url()))

	_, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: is.token(t, k1, "k1")})
	if !errors.Is(err, sdk.ErrUnavailable) || errors.Is(err, sdk.ErrRejected) {
		t.Fatalf("Verify during an outage = %v; want unavailable", err)
	}
	want := fmt.Sprintf("keys of issuer %q are unavailable: discovery failed (GET %[1]s/.well-known/openid-configuration: 503 Service Unavailable), and so did the fallback: GET %[1]s/.well-known/jwks.json: 503 Service Unavailable", is.url())
	if err.Error() != want {
		t.Fatalf("error = %q\nwant    %q", err, want)
	}
	if st := p.Status(context.Background()); st.Ready {
		t.Fatalf("Status = %+v; want not ready", st)
	}
	if counter(t, reg, "slimid_jwt_jwks_fetch_errors_total") < 1 {
		t.Fatal("fetch errors not counted")
	}

	_, err = p.Verify(context.Background(), sdk.VerifyRequest{Token: signConformanceWith(t, k1, "k1")})
	wantErr(t, err, sdk.ErrUntrusted, `no key set trusts issuer "corp-issuer" or subject "org/ns/alice"`)

	is.set(func(is *issuer) { is.status = 0 })
	if _, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: is.token(t, k1, "k1")}); err != nil {
		t.Fatalf("Verify after recovery: %v", err)
	}
}

// TestAutoresolveDiscovery covers where the keys are taken from.
func TestAutoresolveDiscovery(t *testing.T) {
	other := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(other.Close)
	tests := []struct {
		name      string
		discovery func(doc map[string]any)
		wantPath  string
	}{
		{"jwks_uri from discovery", func(map[string]any) {}, "/oauth/keys"},
		{"no discovery document", nil, "/.well-known/jwks.json"},
		{"discovery names another issuer", func(doc map[string]any) { doc["issuer"] = "https://evil.example" }, "/.well-known/jwks.json"},
		{"jwks_uri on another origin", func(doc map[string]any) { doc["jwks_uri"] = other.URL + "/oauth/keys" }, "/.well-known/jwks.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k1 := newKey(t)
			is := newIssuer(t, map[string]crypto.Signer{"k1": k1})
			is.discovery = tt.discovery
			p := autoresolvePlugin(t, is, "0s")
			if _, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: is.token(t, k1, "k1")}); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			for _, path := range []string{"/oauth/keys", "/.well-known/jwks.json"} {
				if got := is.count(path) > 0; got != (path == tt.wantPath) {
					t.Fatalf("%s fetched: %v; keys should come from %s", path, got, tt.wantPath)
				}
			}
		})
	}
}

// TestAutoresolveRefusesCrossOriginRedirect checks that a JWKS endpoint
// cannot send the fetch to another origin.
func TestAutoresolveRefusesCrossOriginRedirect(t *testing.T) {
	k1 := newKey(t)
	elsewhere := newIssuer(t, map[string]crypto.Signer{"k1": k1})
	redirecting := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.url()+"/oauth/keys", http.StatusFound)
	}))
	t.Cleanup(redirecting.Close)
	p, _ := newPlugin(t, jwt.WithHTTPClient(redirecting.Client()))
	configure(t, p, fmt.Sprintf("verifier:\n  claims: {audience: [slim]}\n  key: {type: autoresolve, issuers: [%q], refresh_cooldown: 0s}\n", redirecting.URL))
	tok := signWith(t, jwa.ES256, k1, map[string]any{"kid": "k1"}, conformanceClaims(map[string]any{"iss": redirecting.URL}))
	_, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: tok})
	if !errors.Is(err, sdk.ErrUnavailable) || !strings.Contains(err.Error(), "redirect to another origin") {
		t.Fatalf("Verify = %v; want an outage naming the refused redirect", err)
	}
	if elsewhere.count("/oauth/keys") != 0 {
		t.Fatal("the redirect was followed")
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
