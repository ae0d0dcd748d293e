package member

import (
	"context"
	"fmt"
	"time"

	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/sdk"
)

// TokenSource watches and fetches tokens: *broker.Broker and
// *brokerclient.Client.
type TokenSource interface {
	TokenWatcher
	TokenFetcher
}

// Rotation says how WatchRotation renews a credential.
type Rotation struct {
	// Plugin is the plugin entry the tokens come from.
	Plugin string
	// Audiences are requested in every token.
	Audiences []string
	// NewKey makes every renewal use a fresh signature key (and a token
	// bound to it) instead of the current one.
	NewKey bool
	// Send delivers an Update proposal to the group (the moderator commits
	// it). Required.
	Send func(ctx context.Context, proposal []byte) error
}

// WatchRotation renews this member's token credential until ctx ends:
// whenever the token source hands out a token that expires later than the
// credential in force, once that credential is past half of its lifetime,
// it proposes an Update carrying the new token and sends it. It returns
// ctx's error, or the first error of Send or the token source.
func (m *Member) WatchRotation(ctx context.Context, src TokenSource, r Rotation) error {
	if r.Send == nil {
		return fmt.Errorf("member: Rotation.Send is required")
	}
	current := m.Credential()
	if current.Credential.Type() != mls.CredentialBasic {
		return fmt.Errorf("member: only token (basic) credentials rotate by token; an X.509-SVID member rotates with FetchX509 and Rotate")
	}
	req := sdk.TokenRequest{PublicKey: current.Signer.PublicKey(), Audiences: r.Audiences}
	return src.WatchToken(ctx, r.Plugin, req, func(tok sdk.Token) error {
		if !renewalDue(m.Credential(), tok, time.Now()) {
			return nil
		}
		next, err := tokenCredential(current.Signer, tok)
		if r.NewKey {
			signer, gerr := mls.GenerateSigner(current.Signer.Suite())
			if gerr != nil {
				return fmt.Errorf("member: %w", gerr)
			}
			next, err = FetchToken(ctx, src, r.Plugin, signer, r.Audiences)
		}
		if err != nil {
			return err
		}
		p, err := m.Rotate(next)
		if err != nil || p == nil {
			return err
		}
		return r.Send(ctx, p)
	})
}

// renewalDue reports whether tok should replace cur: it expires later, and
// cur is past half of its lifetime (as SPIRE agents renew).
func renewalDue(cur Credential, tok sdk.Token, now time.Time) bool {
	if !tok.ExpiresAt.After(cur.ExpiresAt) {
		return false
	}
	if cur.IssuedAt.IsZero() || cur.ExpiresAt.IsZero() {
		return true
	}
	return !now.Before(cur.IssuedAt.Add(cur.ExpiresAt.Sub(cur.IssuedAt) / 2))
}
