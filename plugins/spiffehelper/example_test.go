package spiffehelper_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/slimid/slimid/plugins/spiffehelper"
	"github.com/slimid/slimid/sdk"
)

// The plugin configured on a cert_dir spiffe-helper has not written yet:
// not ready, and FetchToken is an outage the caller retries.
func Example() {
	dir, err := os.MkdirTemp("", "svids")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	p := spiffehelper.New(spiffehelper.WithRegisterer(nil))
	defer p.Close()
	ctx := context.Background()
	if _, err := p.Configure(ctx, fmt.Appendf(nil, "cert_dir: %s\njwt_audiences: [slim-demo]\n", dir)); err != nil {
		fmt.Println(err)
		return
	}
	st := p.Status(ctx)
	fmt.Println(st.Ready, strings.Replace(st.Message, dir, "/svids", 1))
	_, err = p.FetchToken(ctx, sdk.TokenRequest{Audiences: []string{"slim-demo"}})
	fmt.Println("outage:", errors.Is(err, sdk.ErrUnavailable))
	// Output:
	// false no valid JWT-SVID: waiting for spiffe-helper to write /svids/jwt_svid.token
	// outage: true
}

func ExampleParseJWTBundle() {
	// key.jwt as spiffe-helper writes it: trust domain to base64 JWKS.
	sets, err := spiffehelper.ParseJWTBundle([]byte(`{"example.org":"eyJrZXlzIjpbXX0="}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(sets["example.org"]))

	_, err = spiffehelper.ParseJWTBundle([]byte(`{"keys":[]}`))
	fmt.Println(err)
	// Output:
	// {"keys":[]}
	// key.jwt is a plain JWKS, which names no trust domain: spiffe-helper writes {"<trust domain>": "<base64 JWKS>"}
}

func ExampleParseTokenFile() {
	tok, err := spiffehelper.ParseTokenFile([]byte("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"))
	fmt.Println(tok, err)
	_, err = spiffehelper.ParseTokenFile([]byte("eyJhbGciOiJFUzI1NiJ9.eyJzdWIi"))
	fmt.Println(err)
	// Output:
	// eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln <nil>
	// jwt_svid.token is not a JWT in compact form (three base64url parts joined by dots)
}
