package moderator

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/slimid/slimid/moderator/audit"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/policy"
	"github.com/slimid/slimid/moderator/store"
	"github.com/slimid/slimid/sdk"
)

// Admission is the outcome of Admit.
type Admission struct {
	// Epoch is the group's epoch afterwards (unchanged if nobody was
	// admitted).
	Epoch uint64
	// Admitted and Refused are in the order of the key packages given.
	Admitted []Admitted
	Refused  []Refusal
	// Commit adds every admitted member in one commit with one Welcome; nil
	// when nobody was admitted.
	Commit *Outgoing
}

// Admitted is a key package whose owner joined.
type Admitted struct {
	// Index is the key package's position in the Admit call.
	Index  int
	Member Member
}

// Refusal is a key package that was refused.
type Refusal struct {
	// Index is the key package's position in the Admit call.
	Index int
	// Subject is the credential's subject when it verified, else empty.
	Subject string
	// Err says why in one line. errors.Is(Err, sdk.ErrRejected) for a
	// verdict (with its kind: sdk.ErrKeyMismatch, sdk.ErrPolicy,
	// ErrAlreadyMember, mls.ErrKeyPackage, ...); errors.Is(Err,
	// sdk.ErrUnavailable) when the broker could not decide (try again).
	Err error
}

// candidate is one key package going through admission.
type candidate struct {
	index int
	kp    *mls.KeyPackage
	v     *verified
	err   error
}

// Admit checks each key package and adds the owners of those that pass in
// one commit with one Welcome. For each key package, in order: decode and
// validate it against the group (signatures, lifetime, suite,
// capabilities), refuse it if it was used before, verify its credential
// with the broker, require the token's bound key to equal the leaf's
// signature key, refuse a subject already in the group, and evaluate the
// group's policy. Refused key packages do not block the others; if none
// passes there is no commit. The commit is durable (and handed to OnCommit)
// before Admit returns; deliver Commit.Messages to Commit.To and
// Commit.Welcome to Commit.WelcomeTo.
func (m *Moderator) Admit(ctx context.Context, groupName string, keyPackages ...[]byte) (*Admission, error) {
	g, err := m.group(groupName)
	if err != nil {
		return nil, err
	}
	defer g.mu.Unlock()
	now := m.now()
	at := m.verifyAt()
	epoch := g.mls.Epoch()

	cands := make([]*candidate, len(keyPackages))
	for i := range cands {
		cands[i] = &candidate{index: i}
	}
	m.checkAll(ctx, g, cands, keyPackages, now, at)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	res := &Admission{Epoch: epoch}
	var pass []*candidate
	subjects := map[string]bool{}
	for _, c := range cands {
		if c.err == nil {
			c.err = g.admissible(c, subjects, len(g.roster)+len(pass), now)
		}
		if c.err != nil {
			r := Refusal{Index: c.index, Err: c.err}
			e := audit.Event{Kind: audit.Refused, Group: g.name, Epoch: epoch, Reason: c.err.Error()}
			if c.kp != nil {
				e.CredentialType = c.kp.CredentialType().String()
			}
			if c.v != nil {
				r.Subject = c.v.id.Subject
				e.Subject, e.Provider, e.CredentialType = c.v.id.Subject, c.v.id.Provider, c.v.ctype.String()
			}
			res.Refused = append(res.Refused, r)
			m.record(e)
			continue
		}
		subjects[c.v.id.Subject] = true
		pass = append(pass, c)
	}
	if len(pass) == 0 {
		return res, nil
	}

	kps := make([]*mls.KeyPackage, len(pass))
	for i, c := range pass {
		kps[i] = c.kp
	}
	commit, err := g.mls.AddMembers(kps...)
	if err != nil {
		m.rollback(g)
		return nil, fmt.Errorf("moderator: group %q: adding %d members: %w", g.name, len(kps), err)
	}
	ch := change{commit: commit, reason: fmt.Sprintf("add %d", len(pass))}
	for i, c := range pass {
		r := c.v.record(commit.Added[i], commit.Epoch)
		ch.put = append(ch.put, r)
		ch.welcomeTo = append(ch.welcomeTo, r.Subject)
		ch.used = append(ch.used, store.KeyPackageUse{Ref: c.kp.Ref(), NotAfter: usedUntil(c)})
	}
	out, err := m.persist(g, ch)
	if err != nil {
		return nil, err
	}
	res.Epoch, res.Commit = out.Epoch, out
	for i, c := range pass {
		r := ch.put[i]
		res.Admitted = append(res.Admitted, Admitted{Index: c.index, Member: r})
		m.record(g.auditEvent(audit.Admitted, &r, out.Epoch, ""))
	}
	m.log.Info("members admitted", "group", g.name, "epoch", out.Epoch, "admitted", len(pass), "refused", len(res.Refused))
	return res, nil
}

// checkAll runs the checks that do not depend on the other key packages
// (decoding, validation, credential verification, key binding) on every
// core.
func (m *Moderator) checkAll(ctx context.Context, g *group, cands []*candidate, raw [][]byte, now, at time.Time) {
	req := g.mls.Requirements(now)
	workers := min(runtime.GOMAXPROCS(0), len(cands))
	next := make(chan *candidate)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c := range next {
				c.kp, c.v, c.err = m.check(ctx, g, raw[c.index], req, at)
			}
		})
	}
	for _, c := range cands {
		next <- c
	}
	close(next)
	wg.Wait()
}

// check decodes, validates and verifies one key package.
func (m *Moderator) check(ctx context.Context, g *group, raw []byte, req mls.Requirements, at time.Time) (*mls.KeyPackage, *verified, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	kp, err := mls.DecodeKeyPackage(raw)
	if err != nil {
		return nil, nil, invalid(err)
	}
	if err := kp.Validate(req); err != nil {
		return kp, nil, invalid(err)
	}
	// The used set is only read here; it changes under the group lock,
	// which Admit holds.
	if _, ok := g.used[kp.Ref()]; ok {
		return kp, nil, refuse([]error{ErrKeyPackageUsed, sdk.ErrReplayed},
			"key package %.16s… was already used to join group %q; create a fresh key package", kp.Ref(), g.name)
	}
	v, err := m.verifyCredential(ctx, kp.Credential(), kp.SignatureKey(), g.info.Audiences, at)
	return kp, v, err
}

// invalid marks an MLS refusal of a key package as an sdk verdict too.
func invalid(err error) error {
	if errors.Is(err, mls.ErrKeyPackage) || errors.Is(err, mls.ErrUnsupportedSuite) {
		return &wrapped{msg: err.Error(), err: errors.Join(err, sdk.ErrInvalid)}
	}
	return err
}

// admissible applies the checks that depend on the group and on the key
// packages before it in the same call: duplicates and the policy.
func (g *group) admissible(c *candidate, batch map[string]bool, size int, now time.Time) error {
	id := c.v.id
	if r := g.bySubject(id.Subject); r != nil {
		return refuse([]error{ErrAlreadyMember}, "%q is already a member of group %q (leaf %d); remove it first, or let it rotate its credential with an Update", id.Subject, g.name, r.Leaf)
	}
	if batch[id.Subject] {
		return refuse([]error{ErrAlreadyMember}, "%q appears twice in one admission; only its first key package is used", id.Subject)
	}
	d := g.policy.Evaluate(policy.Input{
		Identity:       id,
		CredentialType: c.v.ctype.String(),
		Group:          policy.Group{Name: g.name, Size: size, Epoch: g.mls.Epoch()},
		Now:            now,
	})
	if !d.Allowed {
		return refuse([]error{sdk.ErrPolicy}, "policy: %s", d)
	}
	return nil
}

// usedUntil is how long a used key package must be remembered: until it can
// no longer be admitted, that is until its lifetime or the credential it
// carries ends, whichever comes first (a key package may claim a lifetime
// of centuries; its token does not).
func usedUntil(c *candidate) time.Time {
	until := c.kp.Lifetime().NotAfter
	if exp := c.v.id.ExpiresAt; !exp.IsZero() && exp.Before(until) {
		until = exp
	}
	return until
}
