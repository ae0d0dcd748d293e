package service

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/mls"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// channel is the delivery state of one group: its undelivered commits and
// the streams that speak for its members. Lock order: channel, then conn,
// then Service; never call the Moderator with a channel locked (OnCommit
// holds the group's lock and takes the channel's).
type channel struct {
	s    *Service
	name string

	mu      sync.Mutex
	entries []*entry
	bound   map[string]*conn // subject → its stream
	removal map[string]string
	changed chan struct{}
	deleted bool
}

// entry is a durable commit being delivered.
type entry struct {
	out    moderator.Outgoing
	reason string
	// owed: members that must acknowledge the commit before the moderator
	// forgets it; sentOn: the stream it was last sent on, per subject;
	// inflight: sent there and not yet settled.
	owed     map[string]bool
	sentOn   map[string]*conn
	inflight map[string]bool
	// notify: removed members, told best effort (the commit, then Leave).
	notify map[string]bool
	// The Welcome, for WelcomeTo: sent once the current members settled the
	// commit, to the streams that offered its key packages.
	welcomeOwed map[string]bool
	refs        []mls.KeyPackageRef
	welcomeOn   map[*conn]bool
}

func (s *Service) channel(name string) *channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channels[name]
}

// channelFor returns the channel's state, creating it.
func (s *Service) channelFor(name string) *channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[name]
	if c == nil {
		c = &channel{s: s, name: name, bound: map[string]*conn{}, removal: map[string]string{}, changed: make(chan struct{})}
		s.channels[name] = c
	}
	return c
}

// loadChannel rebuilds a channel's delivery state from the moderator's
// outbox after a restart: every member in the roster still owes the
// commits it was sent.
func (s *Service) loadChannel(name string) error {
	pending, err := s.mod.Pending(name)
	if err != nil {
		return err
	}
	roster, err := s.mod.Members(name)
	if err != nil {
		return err
	}
	current := map[string]bool{}
	for _, m := range roster {
		current[m.Subject] = true
	}
	c := s.channelFor(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, out := range pending {
		e := newEntry(out, out.Reason)
		maps.DeleteFunc(e.owed, func(subject string, _ bool) bool { return !current[subject] })
		maps.DeleteFunc(e.welcomeOwed, func(subject string, _ bool) bool { return !current[subject] })
		clear(e.notify)
		c.entries = append(c.entries, e)
	}
	if len(pending) > 0 {
		s.log.Info("undelivered commits will be sent to members as they connect", "channel", name, "commits", len(pending),
			"from_epoch", pending[0].Epoch, "to_epoch", pending[len(pending)-1].Epoch)
	}
	return nil
}

func newEntry(out moderator.Outgoing, reason string) *entry {
	e := &entry{
		out: out, reason: reason, owed: map[string]bool{}, sentOn: map[string]*conn{}, inflight: map[string]bool{},
		notify: map[string]bool{}, welcomeOwed: map[string]bool{}, welcomeOn: map[*conn]bool{},
	}
	removed := map[string]bool{}
	for _, r := range out.Removed {
		removed[r] = true
	}
	for _, to := range out.To {
		if removed[to] {
			e.notify[to] = true
		} else {
			e.owed[to] = true
		}
	}
	for _, w := range out.WelcomeTo {
		e.welcomeOwed[w] = true
	}
	if len(out.Welcome) > 0 {
		if h, err := mls.ParseHeader(out.Welcome); err == nil {
			e.refs = h.Recipients
		}
	}
	return e
}

// onCommit is the moderator's OnCommit: it runs with the group locked, so
// it only queues and sends.
func (s *Service) onCommit(group string, out moderator.Outgoing) {
	c := s.channelFor(group)
	c.mu.Lock()
	reason := commitReason(out, c.removal)
	e := newEntry(out, reason)
	// A removed member needs none of the earlier commits or its Welcome.
	for _, r := range out.Removed {
		delete(c.removal, r)
		for _, earlier := range c.entries {
			delete(earlier.owed, r)
			delete(earlier.welcomeOwed, r)
		}
	}
	c.entries = append(c.entries, e)
	c.pump()
	done := c.settled()
	c.mu.Unlock()
	s.log.Info("commit", "channel", group, "epoch", out.Epoch, "reason", reason, "to", len(out.To), "welcome_to", len(out.WelcomeTo))
	s.markDelivered(group, done)
}

// commitReason says what a commit does, for members and logs.
func commitReason(out moderator.Outgoing, removal map[string]string) string {
	switch {
	case len(out.Removed) > 0:
		for _, r := range out.Removed {
			if why := removal[r]; why != "" {
				return why
			}
		}
		if strings.HasPrefix(out.Reason, "expired") {
			return "credential expired without renewal"
		}
		return "removed: " + strings.Join(out.Removed, ", ")
	case len(out.WelcomeTo) > 0:
		return "added " + strings.Join(out.WelcomeTo, ", ")
	}
	return out.Reason
}

// pump sends every commit and Welcome that can go now, in epoch order per
// member. Called with c.mu held.
func (c *channel) pump() {
	for _, e := range c.entries {
		for _, subject := range slices.Sorted(maps.Keys(e.owed)) {
			if conn := c.bound[subject]; conn != nil && e.sentOn[subject] != conn {
				c.sendCommit(e, subject, conn, true)
			}
		}
		for _, subject := range slices.Sorted(maps.Keys(e.notify)) {
			if conn := c.bound[subject]; conn != nil {
				c.sendCommit(e, subject, conn, false)
				conn.enqueue(&moderatorv1.ModeratorMessage{Body: &moderatorv1.ModeratorMessage_Leave{Leave: &moderatorv1.Leave{
					ChannelName: c.name, Reason: e.reason, Epoch: e.out.Epoch,
				}}})
				delete(c.bound, subject)
				conn.clearBinding(c.name, subject)
				c.s.log.Info("member removed; told it to leave", "channel", c.name, "subject", subject, "participant", conn.name)
			}
			delete(e.notify, subject)
		}
		if len(e.welcomeOwed) > 0 && c.commitSettled(e) {
			c.sendWelcome(e)
		}
	}
	c.signal()
}

// commitSettled reports whether every member owed the commit either
// settled it on its current stream or is offline.
func (c *channel) commitSettled(e *entry) bool {
	for subject := range e.owed {
		if conn := c.bound[subject]; conn != nil && (e.sentOn[subject] != conn || e.inflight[subject]) {
			return false
		}
	}
	return true
}

func (c *channel) sendCommit(e *entry, subject string, conn *conn, tracked bool) {
	id := c.s.nextID()
	e.sentOn[subject] = conn
	e.inflight[subject] = tracked
	epoch := e.out.Epoch
	d := &delivery{
		id: id, what: whatCommit, channel: c.name, subject: subject, epoch: epoch,
		msg: &moderatorv1.ModeratorMessage{Body: &moderatorv1.ModeratorMessage_Delivery{Delivery: &moderatorv1.Delivery{
			DeliveryId: id, ChannelName: c.name, Kind: moderatorv1.Delivery_KIND_COMMIT, Epoch: epoch,
			Messages: e.out.Messages, Reason: e.reason,
		}}},
		settle: func(o outcome) { c.commitOutcome(epoch, subject, conn, o) },
	}
	if !tracked {
		d.settle = func(outcome) {}
	}
	conn.deliver(d)
}

func (c *channel) sendWelcome(e *entry) {
	targets := c.s.awaitingConns(c.name, e.refs)
	for _, conn := range targets {
		if e.welcomeOn[conn] {
			continue
		}
		e.welcomeOn[conn] = true
		id := c.s.nextID()
		epoch := e.out.Epoch
		refs := e.refs
		d := &delivery{
			id: id, what: whatWelcome, channel: c.name, subject: conn.name, epoch: epoch,
			msg: &moderatorv1.ModeratorMessage{Body: &moderatorv1.ModeratorMessage_Delivery{Delivery: &moderatorv1.Delivery{
				DeliveryId: id, ChannelName: c.name, Kind: moderatorv1.Delivery_KIND_WELCOME, Epoch: epoch,
				Messages: [][]byte{e.out.Welcome}, Reason: e.reason,
			}}},
			settle: func(o outcome) { c.s.welcomeOutcome(c, epoch, refs, conn, o) },
		}
		conn.deliver(d)
	}
}

// commitOutcome records a member's acknowledgement of a commit, or that it
// did not come.
func (c *channel) commitOutcome(epoch uint64, subject string, conn *conn, o outcome) {
	if o.err == nil && o.ack.GetError() != "" {
		c.s.log.Warn("member could not apply a commit; it is sent again when it reconnects",
			"channel", c.name, "subject", subject, "participant", conn.name, "epoch", epoch, "error", o.ack.GetError())
	}
	c.mu.Lock()
	for _, e := range c.entries {
		if e.out.Epoch != epoch || e.sentOn[subject] != conn {
			continue
		}
		e.inflight[subject] = false
		if o.err == nil && o.ack.GetError() == "" {
			delete(e.owed, subject)
		}
	}
	c.pump()
	done := c.settled()
	c.mu.Unlock()
	c.s.markDelivered(c.name, done)
}

// settled pops the commits every member acknowledged and returns the last
// epoch popped (0: none). Called with c.mu held.
func (c *channel) settled() uint64 {
	var last uint64
	for len(c.entries) > 0 {
		e := c.entries[0]
		if len(e.owed) > 0 || len(e.welcomeOwed) > 0 {
			break
		}
		last = e.out.Epoch
		c.entries = c.entries[1:]
	}
	return last
}

// markDelivered tells the moderator which commits need no further sending.
func (s *Service) markDelivered(name string, epoch uint64) {
	if epoch == 0 {
		return
	}
	if err := s.mod.Delivered(name, epoch); err != nil {
		// The commits stay in the outbox and are sent again after a
		// restart; members ignore what they already applied.
		s.log.Warn("could not mark commits delivered", "channel", name, "epoch", epoch, "error", err)
	}
}

// bind makes conn the stream of a member that proved it holds its leaf's
// key, at the epoch it says it reached.
func (c *channel) bind(subject string, leaf uint32, conn *conn, epoch uint64) error {
	c.mu.Lock()
	if c.deleted {
		c.mu.Unlock()
		return fmt.Errorf("channel %q was deleted", c.name)
	}
	old := c.bound[subject]
	c.bound[subject] = conn
	conn.setBinding(c.name, binding{subject: subject, leaf: leaf})
	for _, e := range c.entries {
		if e.out.Epoch <= epoch {
			delete(e.owed, subject)
		}
	}
	c.pump()
	done := c.settled()
	c.mu.Unlock()
	if old != nil && old != conn {
		old.clearBinding(c.name, subject)
	}
	c.s.markDelivered(c.name, done)
	return nil
}

// unbind marks a member offline when its stream ends.
func (c *channel) unbind(subject string, conn *conn) {
	c.mu.Lock()
	if c.bound[subject] == conn {
		delete(c.bound, subject)
	}
	c.pump()
	c.mu.Unlock()
}

// kick sends what waited for a stream (a Welcome for a key package it
// offered).
func (c *channel) kick() {
	c.mu.Lock()
	c.pump()
	c.mu.Unlock()
}

// signal wakes those waiting for a change. Called with c.mu held.
func (c *channel) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// undelivered counts the commits not yet acknowledged by everyone.
func (c *channel) undelivered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// connected reports whether a member has a stream.
func (c *channel) connected(subject string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bound[subject] != nil
}

// members returns the bound members and their streams, except one.
func (c *channel) members(except string) map[string]*conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]*conn{}
	for subject, conn := range c.bound {
		if subject != except {
			out[subject] = conn
		}
	}
	return out
}
