package memberclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/sdk"
)

// Rotate renews the member's credential in a channel now: a fresh token for
// the same key, proposed as an Update that the moderator commits. The
// Rotated event follows the commit. Credentials are also renewed on their
// own past half their lifetime.
func (c *Client) Rotate(ctx context.Context, channel string) error {
	ms := c.membership(channel)
	if ms == nil {
		return fmt.Errorf("memberclient: %s is not a member of channel %q", c.cfg.Name, channel)
	}
	if c.cfg.Tokens == nil {
		return errors.New("memberclient: no token source to renew the credential from (Config.Tokens)")
	}
	cur := ms.m.Credential()
	if cur.Credential.Type() != mls.CredentialBasic {
		return fmt.Errorf("memberclient: channel %q: only token credentials are renewed here", channel)
	}
	tok, err := c.cfg.Tokens.FetchToken(ctx, ms.plugin, sdk.TokenRequest{PublicKey: cur.Signer.PublicKey(), Audiences: ms.audiences})
	if err != nil {
		return fmt.Errorf("memberclient: renewing the token: %w", err)
	}
	cred, err := mls.NewBasicCredential([]byte(tok.Value))
	if err != nil {
		return fmt.Errorf("memberclient: %w", err)
	}
	ms.mu.Lock()
	p, err := ms.m.Rotate(member.Credential{Signer: cur.Signer, Credential: cred, IssuedAt: tok.IssuedAt, ExpiresAt: tok.ExpiresAt})
	if err == nil {
		err = c.store.saveMembership(ms)
	}
	ms.mu.Unlock()
	if err != nil || p == nil {
		return err
	}
	return c.publishOrQueue(channel, p)
}

// startRotation renews a token credential in the background until the
// membership ends. Called with c.mu held.
func (c *Client) startRotation(ctx context.Context, ms *membership) {
	if c.cfg.Tokens == nil || ms.m.Credential().Credential.Type() != mls.CredentialBasic || ms.stop != nil {
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	ms.stop = cancel
	go func() {
		backoff := c.cfg.MinBackoff
		for rctx.Err() == nil {
			err := ms.m.WatchRotation(rctx, c.cfg.Tokens, member.Rotation{
				Plugin: ms.plugin, Audiences: ms.audiences,
				Send: func(_ context.Context, p []byte) error {
					ms.mu.Lock()
					err := c.store.saveMembership(ms)
					ms.mu.Unlock()
					if err != nil {
						return err
					}
					return c.publishOrQueue(ms.channel, p)
				},
			})
			if rctx.Err() != nil {
				return
			}
			c.log.Warn("credential renewal failed; retrying", "channel", ms.channel, "error", err, "backoff", backoff)
			select {
			case <-rctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, c.cfg.MaxBackoff)
		}
	}()
}

func (c *Client) stopRotations() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ms := range c.memberships {
		if ms.stop != nil {
			ms.stop()
		}
	}
}
