package member_test

import (
	"context"
	"fmt"

	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/sdk"
)

// tokenFunc adapts a function to member.TokenFetcher.
type tokenFunc func(context.Context, string, sdk.TokenRequest) (sdk.Token, error)

func (f tokenFunc) FetchToken(ctx context.Context, plugin string, req sdk.TokenRequest) (sdk.Token, error) {
	return f(ctx, plugin, req)
}

// A key package's credential is a token that binds the key package's own
// signature key, as SLIM builds it.
func ExampleFetchToken() {
	var requested sdk.TokenRequest
	broker := tokenFunc(func(_ context.Context, plugin string, req sdk.TokenRequest) (sdk.Token, error) {
		requested = req // a real broker puts req.PublicKey in the token's pubkey claim
		return sdk.Token{Value: "org/ns/alice:1796400000:bm9uY2Vub25jZW5v::bWFj", Subject: "org/ns/alice"}, nil
	})
	signer, _ := mls.GenerateSigner(mls.SuiteX25519AES128GCM)
	cred, err := member.FetchToken(context.Background(), broker, "team", signer, []string{"slim"})
	if err != nil {
		panic(err)
	}
	bundle, err := cred.KeyPackage()
	if err != nil {
		panic(err)
	}
	kp := bundle.KeyPackage()
	fmt.Println("token binds the leaf key:", string(requested.PublicKey) == string(kp.SignatureKey()))
	fmt.Printf("credential: %s, %s\n", kp.CredentialType(), kp.Identity())
	// Output:
	// token binds the leaf key: true
	// credential: basic, org/ns/alice:1796400000:bm9uY2Vub25jZW5v::bWFj
}
