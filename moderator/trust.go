package moderator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/slimid/slimid/moderator/audit"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/sdk"
)

// Reverify re-verifies, in every group, the recorded credentials that the
// named plugins (nil: every plugin) vouched for, each at the time it was verified, so that only
// trust (keys, bundles, a swapped plugin) is tested and not the clock.
// Members that fail are removed, one commit per group (audit "removed");
// those that pass are audited "reverified". If the moderator's own
// credential fails it is renewed at once. Run calls it when the
// TrustWatcher reports a change. It returns the plugins whose verdicts
// could not be reached (an outage): nobody they vouched for was removed,
// try again later.
func (m *Moderator) Reverify(ctx context.Context, plugins []string) ([]string, error) {
	var undecided []string
	var errs []error
	for _, g := range m.allGroups() {
		u, err := m.reverifyGroup(ctx, g.name, plugins)
		undecided = append(undecided, u...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	slices.Sort(undecided)
	return slices.Compact(undecided), errors.Join(errs...)
}

// reverifyAll is Reverify for Run: it logs errors and returns the plugins
// to try again.
func (m *Moderator) reverifyAll(ctx context.Context, plugins []string) []string {
	m.log.Info("trust changed; re-verifying members", "plugins", plugins)
	undecided, err := m.Reverify(ctx, plugins)
	if err != nil && ctx.Err() == nil {
		m.log.Error("re-verification failed", "plugins", plugins, "error", err)
	}
	if len(undecided) > 0 {
		m.log.Warn("re-verification undecided; retrying", "plugins", undecided)
	}
	return undecided
}

func (m *Moderator) reverifyGroup(ctx context.Context, name string, plugins []string) ([]string, error) {
	g, err := m.group(name)
	if err != nil {
		if errors.Is(err, ErrUnknownGroup) {
			return nil, nil
		}
		return nil, err
	}
	defer g.mu.Unlock()
	var undecided []string
	var failed []mls.LeafIndex
	reasons := map[mls.LeafIndex]string{}
	renewSelf := false
	for _, l := range slices.Sorted(maps.Keys(g.roster)) {
		r := g.roster[l]
		if plugins != nil && !slices.Contains(plugins, r.Provider) {
			continue
		}
		err := m.reverify(ctx, r, g.info.Audiences)
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err == nil:
			if !r.Moderator {
				m.record(g.auditEvent(audit.Reverified, r, g.mls.Epoch(), "trust of plugin "+r.Provider+" changed; the credential still verifies"))
			}
		case errors.Is(err, sdk.ErrRejected):
			if r.Moderator {
				renewSelf = true
				m.log.Warn("the moderator's own credential no longer verifies; renewing it", "group", g.name, "error", err)
				continue
			}
			failed = append(failed, l)
			reasons[l] = "trust change: " + err.Error()
		default:
			undecided = append(undecided, r.Provider)
			m.log.Warn("re-verification undecided", "group", g.name, "subject", r.Subject, "error", err)
		}
	}
	var errs []error
	if len(failed) > 0 {
		_, err := m.removeLeaves(g, failed, audit.Removed, func(r *Member) string { return reasons[mls.LeafIndex(r.Leaf)] })
		errs = append(errs, err)
	}
	if renewSelf {
		if err := m.renewOwn(ctx, g, "trust change"); err != nil {
			errs = append(errs, fmt.Errorf("renewing after a trust change: %w", err))
		}
	}
	return undecided, errors.Join(errs...)
}
