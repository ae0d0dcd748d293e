package moderator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/slimid/slimid/moderator/audit"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/sdk"
)

// Run drives the lifecycle until ctx ends: every SweepInterval it removes
// members whose credentials expired more than ExpiryGrace ago without
// renewal, warns about those close to expiry, and renews the moderator's
// own credential; when the Verifier is a TrustWatcher it re-verifies the
// members of plugins whose trust changed. Lifecycle commits reach the
// transport through OnCommit and Pending. Run returns ctx's error.
func (m *Moderator) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	retry := &retrySet{}
	// Trust may have changed while the moderator was down (keys withdrawn,
	// a plugin swapped): re-verify everyone before anything else.
	retry.add(m.reverifyAll(ctx, nil))
	if tw, ok := m.cfg.Verifier.(TrustWatcher); ok {
		wg.Go(func() {
			tw.WatchTrust(ctx, func(plugins []string) {
				retry.add(m.reverifyAll(ctx, plugins))
			})
		})
	}
	tick := time.NewTicker(m.cfg.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if err := m.Sweep(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("lifecycle sweep failed", "error", err)
		}
		if plugins := retry.take(); len(plugins) > 0 {
			retry.add(m.reverifyAll(ctx, plugins))
		}
	}
}

// retrySet holds plugins whose re-verification could not decide.
type retrySet struct {
	mu      sync.Mutex
	plugins map[string]bool
}

func (r *retrySet) add(plugins []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.plugins == nil {
		r.plugins = map[string]bool{}
	}
	for _, p := range plugins {
		r.plugins[p] = true
	}
}

func (r *retrySet) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Sorted(maps.Keys(r.plugins))
	clear(r.plugins)
	return out
}

// Sweep runs one lifecycle pass over every group at the current time:
// expiry warnings, removal of expired members, and renewal of the
// moderator's own credential. Run calls it every SweepInterval; tests with
// an injected Clock call it directly.
func (m *Moderator) Sweep(ctx context.Context) error {
	var errs []error
	for _, g := range m.allGroups() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := m.sweepGroup(ctx, g.name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *Moderator) sweepGroup(ctx context.Context, name string) error {
	g, err := m.group(name)
	if err != nil {
		if errors.Is(err, ErrUnknownGroup) {
			return nil // deleted meanwhile
		}
		return err
	}
	defer g.mu.Unlock()
	now := m.now()
	var expired []mls.LeafIndex
	for _, l := range slices.Sorted(maps.Keys(g.roster)) {
		r := g.roster[l]
		if r.Moderator || r.ExpiresAt.IsZero() {
			continue
		}
		switch {
		case !now.Before(r.ExpiresAt.Add(m.cfg.ExpiryGrace)):
			expired = append(expired, l)
		case !now.Before(r.ExpiresAt.Add(-m.cfg.ExpiryWarning)) && !g.warned[l].Equal(r.ExpiresAt):
			g.warned[l] = r.ExpiresAt
			m.log.Warn("member credential expires without renewal; it will be removed after the grace period",
				"group", g.name, "subject", r.Subject, "expires_at", timeText(r.ExpiresAt), "removal_at", timeText(r.ExpiresAt.Add(m.cfg.ExpiryGrace)))
		}
	}
	var errs []error
	if len(expired) > 0 {
		_, err := m.removeLeaves(g, expired, audit.Expired, func(r *Member) string {
			return fmt.Sprintf("credential expired at %s and was not renewed within the grace period of %s", timeText(r.ExpiresAt), m.cfg.ExpiryGrace)
		})
		errs = append(errs, err)
	}
	if self := g.self(); self != nil && m.renewalDue(self, now) {
		errs = append(errs, m.renewOwn(ctx, g, "renewal before expiry"))
	}
	return errors.Join(errs...)
}

// renewalDue reports whether the moderator's credential is past two
// thirds of its lifetime, when SLIM renews too.
func (m *Moderator) renewalDue(self *Member, now time.Time) bool {
	if self.ExpiresAt.IsZero() {
		return false
	}
	issued := self.IssuedAt
	if issued.IsZero() || !issued.Before(self.ExpiresAt) {
		issued = self.VerifiedAt
	}
	return !now.Before(issued.Add(self.ExpiresAt.Sub(issued) * 2 / 3))
}

// renewOwn fetches a fresh token bound to the moderator's key, verifies it
// and commits it through the UpdatePath (never an Update proposal of its
// own: a committer must not commit its own Update).
func (m *Moderator) renewOwn(ctx context.Context, g *group, why string) error {
	self := g.self()
	if m.cfg.Tokens == nil {
		return m.renewSkipped(g, self, "no token source is configured (Config.Tokens)")
	}
	if self.CredentialType != mls.CredentialBasic.String() {
		return m.renewSkipped(g, self, "only a token (basic) credential can be renewed")
	}
	if len(g.roster) < 2 {
		// A lone member's commit has no UpdatePath to carry a credential;
		// the next sweep after an admission renews it.
		return nil
	}
	signer := g.mls.Signer()
	tok, err := m.cfg.Tokens.FetchToken(ctx, g.info.Plugin, sdk.TokenRequest{PublicKey: signer.PublicKey(), Audiences: g.info.Audiences})
	if err != nil {
		return fmt.Errorf("moderator: group %q: fetching the moderator's renewed token from plugin %q: %w", g.name, g.info.Plugin, err)
	}
	cred, err := mls.NewBasicCredential([]byte(tok.Value))
	if err != nil {
		return fmt.Errorf("moderator: group %q: %w", g.name, err)
	}
	v, err := m.verifyCredential(ctx, cred, signer.PublicKey(), g.info.Audiences, m.verifyAt())
	if err != nil {
		return fmt.Errorf("moderator: group %q: the moderator's renewed token: %w", g.name, err)
	}
	switch {
	case v.id.Subject != self.Subject:
		return fmt.Errorf("moderator: group %q: the renewed token names %q, not the moderator's %q; give plugin %q a stable identity", g.name, v.id.Subject, self.Subject, g.info.Plugin)
	case bytes.Equal(cred.Identity(), self.Token):
		return fmt.Errorf("moderator: group %q: plugin %q handed out the token in force again; it cannot renew it yet", g.name, g.info.Plugin)
	}
	commit, err := g.mls.UpdateCredential(cred)
	if err != nil {
		m.rollback(g)
		return fmt.Errorf("moderator: group %q: committing the moderator's renewed credential: %w", g.name, err)
	}
	r := v.record(g.mls.OwnLeaf(), self.JoinedEpoch)
	r.Moderator = true
	out, err := m.persist(g, change{commit: commit, put: []Member{r}, reason: "moderator credential: " + why})
	if err != nil {
		return err
	}
	m.record(g.auditEvent(audit.Updated, &r, out.Epoch, fmt.Sprintf("moderator credential renewed (%s), valid until %s", why, timeText(r.ExpiresAt))))
	return nil
}

func (m *Moderator) renewSkipped(g *group, self *Member, why string) error {
	if !g.warned[mls.LeafIndex(self.Leaf)].Equal(self.ExpiresAt) {
		g.warned[mls.LeafIndex(self.Leaf)] = self.ExpiresAt
		m.log.Warn("the moderator's credential cannot be renewed", "group", g.name, "reason", why, "expires_at", timeText(self.ExpiresAt))
	}
	return nil
}
