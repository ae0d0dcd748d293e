package sharedsecret

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/slimid/slimid/sdk"
)

// FuzzVerify feeds arbitrary tokens to Verify: it must never panic and must
// answer every input with an identity or a verdict, never an outage.
func FuzzVerify(f *testing.F) {
	secret := "slimid-test-vector-secret-0123456789abcdef"
	p := New()
	if _, err := p.Configure(context.Background(), []byte("id: org/ns/alice_Ab3dE9xQ\nrandom_suffix: false\ndata: "+secret+"\n")); err != nil {
		f.Fatal(err)
	}
	at := time.Unix(1767225610, 0)
	f.Fuzz(func(t *testing.T, token string) {
		id, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: token, At: at})
		if err == nil {
			// Only a correctly MACed token can pass.
			tok, perr := parse(token)
			if perr != nil || string(computeMAC([]byte(secret), tok.signed)) != string(tok.mac) {
				t.Fatalf("accepted a token without a valid MAC: %q", token)
			}
			if id.Subject == "" {
				t.Fatalf("accepted %q with an empty subject", token)
			}
			return
		}
		if !errors.Is(err, sdk.ErrRejected) {
			t.Fatalf("Verify(%q) = %v; want a verdict", token, err)
		}
	})
}
