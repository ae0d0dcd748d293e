package member

import (
	"context"
	"fmt"
	"time"

	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/sdk"
)

// TokenFetcher mints tokens. *broker.Broker and *brokerclient.Client both
// satisfy it.
type TokenFetcher interface {
	FetchToken(ctx context.Context, plugin string, req sdk.TokenRequest) (sdk.Token, error)
}

// TokenWatcher sends a fresh token before each expiry. *broker.Broker and
// *brokerclient.Client both satisfy it.
type TokenWatcher interface {
	WatchToken(ctx context.Context, plugin string, req sdk.TokenRequest, send func(sdk.Token) error) error
}

// X509Fetcher fetches the workload's X.509-SVID. *broker.Broker has it.
type X509Fetcher interface {
	FetchX509SVID(ctx context.Context, plugin string) (sdk.X509SVID, error)
}

// Credential is a member's MLS credential with the key it is bound to and
// its validity.
type Credential struct {
	Signer     *mls.Signer
	Credential mls.Credential
	IssuedAt   time.Time
	ExpiresAt  time.Time
}

// FetchToken asks plugin for a token bound to signer's public key (the
// `pubkey` claim; for SPIRE JWT-SVIDs the plugin carries it in a
// `slim-claims:` audience) and wraps it in a BasicCredential, as SLIM does.
func FetchToken(ctx context.Context, src TokenFetcher, plugin string, signer *mls.Signer, audiences []string) (Credential, error) {
	if signer == nil {
		return Credential{}, fmt.Errorf("member: no signer given")
	}
	tok, err := src.FetchToken(ctx, plugin, sdk.TokenRequest{PublicKey: signer.PublicKey(), Audiences: audiences})
	if err != nil {
		return Credential{}, fmt.Errorf("member: fetching a token from plugin %q: %w", plugin, err)
	}
	return tokenCredential(signer, tok)
}

func tokenCredential(signer *mls.Signer, tok sdk.Token) (Credential, error) {
	cred, err := mls.NewBasicCredential([]byte(tok.Value))
	if err != nil {
		return Credential{}, fmt.Errorf("member: %w", err)
	}
	return Credential{Signer: signer, Credential: cred, IssuedAt: tok.IssuedAt, ExpiresAt: tok.ExpiresAt}, nil
}

// FetchX509 fetches the workload's X.509-SVID from plugin and makes it an
// X509Credential. The SVID's key is the signature key, so the suite is
// 0x0002 (P-256), SPIRE's default key type.
func FetchX509(ctx context.Context, src X509Fetcher, plugin string) (Credential, error) {
	svid, err := src.FetchX509SVID(ctx, plugin)
	if err != nil {
		return Credential{}, fmt.Errorf("member: fetching the X.509-SVID from plugin %q: %w", plugin, err)
	}
	if len(svid.Chain) == 0 {
		return Credential{}, fmt.Errorf("member: plugin %q returned an X.509-SVID without certificates", plugin)
	}
	signer, err := mls.NewSigner(mls.SuiteP256AES128GCM, svid.PrivateKey)
	if err != nil {
		return Credential{}, fmt.Errorf("member: the X.509-SVID key cannot sign for suite 0x0002: %w", err)
	}
	chain := make([][]byte, len(svid.Chain))
	for i, c := range svid.Chain {
		chain[i] = c.Raw
	}
	cred, err := mls.NewX509Credential(chain)
	if err != nil {
		return Credential{}, fmt.Errorf("member: %w", err)
	}
	return Credential{Signer: signer, Credential: cred, IssuedAt: svid.Chain[0].NotBefore, ExpiresAt: svid.Chain[0].NotAfter}, nil
}

// keyPackageSkew backdates a key package's start, so a moderator whose
// clock is slightly behind still finds it valid.
const keyPackageSkew = time.Minute

// KeyPackage builds a key package for the credential, valid from a minute
// ago until the credential expires (a day from now if it has no expiry).
// Send KeyPackage().Bytes() to the moderator; keep the bundle to join.
func (c Credential) KeyPackage() (*mls.KeyPackageBundle, error) {
	now := time.Now()
	lt := mls.Lifetime{NotBefore: now.Add(-keyPackageSkew), NotAfter: c.ExpiresAt}
	if lt.NotAfter.IsZero() {
		lt.NotAfter = now.Add(24 * time.Hour)
	}
	if certs := c.Credential.Certificates(); len(certs) > 0 {
		lt.NotBefore = laterOf(lt.NotBefore, certs[0].NotBefore)
	}
	bundle, err := mls.NewKeyPackage(c.Signer, c.Credential, lt)
	if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	return bundle, nil
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
