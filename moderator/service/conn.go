package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/slimid/slimid/moderator/mls"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// outQueue bounds the frames waiting for a slow member; a member that falls
// that far behind is disconnected and catches up when it reconnects.
const outQueue = 1024

// Reasons a stream ends, for logs and for the settle of its deliveries.
var (
	errReplaced     = errors.New("replaced by a newer connection of the same participant")
	errTooSlow      = errors.New("the participant reads too slowly: more than 1024 messages waiting")
	errStopping     = errors.New("the moderator is stopping")
	errDisconnected = errors.New("the participant disconnected")
	errUnresponsive = errors.New("the participant is unresponsive")
	errNameTaken    = errors.New("participant name in use")
)

type memberStream = grpc.BidiStreamingServer[moderatorv1.MemberMessage, moderatorv1.ModeratorMessage]

// conn is one member's Connect stream after its Hello.
type conn struct {
	s      *Service
	name   string
	nonce  []byte
	stream memberStream
	ctx    context.Context
	cancel context.CancelCauseFunc
	out    chan *moderatorv1.ModeratorMessage

	mu       sync.Mutex
	pending  map[uint64]*delivery
	channels map[string]binding // the members this stream speaks for, by channel
	closed   bool
	// registered is set once the handshake put the stream in Service.conns.
	registered bool
}

// binding is a member a stream proved it speaks for.
type binding struct {
	subject string
	leaf    uint32
}

// outcome is how a delivery ended.
type outcome struct {
	ack   *moderatorv1.Ack
	reply *moderatorv1.JoinReply
	err   error // errUnresponsive, errDisconnected, ...
}

// delivery is a frame awaiting its Ack (or, for a join request, its
// JoinReply).
type delivery struct {
	id      uint64
	msg     *moderatorv1.ModeratorMessage
	what    string
	channel string
	subject string
	epoch   uint64
	sent    time.Time
	resends int
	// settle runs once, without the stream's lock held.
	settle func(outcome)
}

func newConn(s *Service, name string, nonce []byte, stream memberStream) *conn {
	ctx, cancel := context.WithCancelCause(stream.Context())
	return &conn{
		s: s, name: name, nonce: nonce, stream: stream, ctx: ctx, cancel: cancel,
		out: make(chan *moderatorv1.ModeratorMessage, outQueue), pending: map[uint64]*delivery{}, channels: map[string]binding{},
	}
}

// enqueue hands a frame to the writer without blocking.
func (c *conn) enqueue(m *moderatorv1.ModeratorMessage) {
	select {
	case <-c.ctx.Done():
	case c.out <- m:
	default:
		c.cancel(errTooSlow)
	}
}

// writer sends queued frames until the stream ends.
func (c *conn) writer() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case m := <-c.out:
			if err := c.stream.Send(m); err != nil {
				c.cancel(errDisconnected)
				return
			}
		}
	}
}

// deliver sends a frame that must be acknowledged, re-sending it until it
// is. settle is called once with the outcome, never from deliver itself, so
// callers may hold their locks.
func (c *conn) deliver(d *delivery) {
	d.sent = time.Now()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		go d.settle(outcome{err: errDisconnected})
		return
	}
	c.pending[d.id] = d
	c.mu.Unlock()
	c.s.metrics.deliveries.WithLabelValues(d.what).Inc()
	c.enqueue(d.msg)
}

// take removes a pending delivery, if it is still pending.
func (c *conn) take(id uint64) *delivery {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.pending[id]
	delete(c.pending, id)
	return d
}

// forget drops a pending delivery without settling it (its caller gave up).
func (c *conn) forget(id uint64) { c.take(id) }

// retries re-sends unacknowledged deliveries every RetryInterval, and
// reports the participant unresponsive once MaxRetries re-sends went
// unanswered.
func (c *conn) retries() {
	interval := c.s.cfg.RetryInterval
	tick := time.NewTicker(max(interval/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		var resend, expired []*delivery
		c.mu.Lock()
		for _, id := range slices.Sorted(maps.Keys(c.pending)) {
			d := c.pending[id]
			if now.Sub(d.sent) < interval {
				continue
			}
			if d.resends >= c.s.cfg.MaxRetries {
				delete(c.pending, id)
				expired = append(expired, d)
				continue
			}
			d.resends++
			d.sent = now
			resend = append(resend, d)
		}
		c.mu.Unlock()
		for _, d := range resend {
			c.s.metrics.resends.WithLabelValues(d.what).Inc()
			c.enqueue(d.msg)
		}
		for _, d := range expired {
			c.s.metrics.unresponsive.WithLabelValues(d.what).Inc()
			c.s.log.Warn("participant unresponsive: delivery unacknowledged after every retry; it is sent again when the participant reconnects",
				"participant", c.name, "subject", d.subject, "channel", d.channel, "kind", d.what, "epoch", d.epoch,
				"tries", d.resends+1, "interval", interval)
			d.settle(outcome{err: errUnresponsive})
		}
	}
}

// close ends the stream: pending deliveries settle as disconnected and the
// members it spoke for are offline until they reconnect.
func (c *conn) close(cause error) {
	c.cancel(cause)
	c.mu.Lock()
	c.closed = true
	pending := c.pending
	c.pending = map[uint64]*delivery{}
	channels := maps.Clone(c.channels)
	c.mu.Unlock()
	for _, id := range slices.Sorted(maps.Keys(pending)) {
		pending[id].settle(outcome{err: cause})
	}
	for ch, b := range channels {
		if st := c.s.channel(ch); st != nil {
			st.unbind(b.subject, c)
		}
	}
	c.s.dropConn(c)
}

// bindingFor returns the member this stream speaks for in a channel.
func (c *conn) bindingFor(channel string) (binding, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.channels[channel]
	return b, ok
}

func (c *conn) setBinding(channel string, b binding) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.channels[channel] = b
}

func (c *conn) clearBinding(channel, subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.channels[channel].subject == subject {
		delete(c.channels, channel)
	}
}

// awaited is a key package a stream waits for a Welcome for.
type awaited struct {
	conn    *conn
	channel string
	// joined receives whether the Welcome was acknowledged; nil when nobody
	// waits.
	joined chan bool
}

// addConn registers a stream after its handshake, replacing an older one
// of the same participant. A stream that speaks for members is replaced
// only by one that proved at least one of those memberships, so a name
// alone cannot cut a member off.
// ready is queued before the stream becomes visible, so it is the first
// thing the member reads after its Proof.
func (s *Service) addConn(c *conn, proven []accepted, awaiting map[mls.KeyPackageRef]string, ready *moderatorv1.Ready) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return errStopping
	}
	old := s.conns[c.name]
	if old != nil && old.ctx.Err() == nil && !old.replaceableBy(proven) {
		s.mu.Unlock()
		return fmt.Errorf("%w: participant %q is connected and speaks for members; a new stream must prove one of those memberships to replace it", errNameTaken, c.name)
	}
	c.enqueue(&moderatorv1.ModeratorMessage{Body: &moderatorv1.ModeratorMessage_Ready{Ready: ready}})
	s.conns[c.name] = c
	c.registered = true
	for ref, ch := range awaiting {
		s.awaiting[ref] = &awaited{conn: c, channel: ch}
	}
	close(s.connsChanged)
	s.connsChanged = make(chan struct{})
	s.mu.Unlock()
	s.metrics.connected.Inc()
	if old != nil {
		s.log.Info("participant reconnected; closing its older stream", "participant", c.name)
		old.cancel(errReplaced)
	}
	return nil
}

// replaceableBy reports whether a stream may give way to one that proved
// the given memberships.
func (c *conn) replaceableBy(proven []accepted) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.channels) == 0 {
		return true
	}
	for _, a := range proven {
		if c.channels[a.channel].subject == a.subject {
			return true
		}
	}
	return false
}

// dropConn unregisters a stream that ended.
func (s *Service) dropConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.registered {
		return
	}
	if s.conns[c.name] == c {
		delete(s.conns, c.name)
	}
	for ref, a := range s.awaiting {
		if a.conn == c {
			if a.joined != nil {
				a.joined <- false
			}
			delete(s.awaiting, ref)
		}
	}
	s.metrics.connected.Dec()
}

// waitConn returns the participant's stream, waiting for it to connect as
// long as a delivery would be retried.
func (s *Service) waitConn(ctx context.Context, name string) (*conn, error) {
	deadline := time.NewTimer(s.cfg.RetryInterval * time.Duration(s.cfg.MaxRetries+1))
	defer deadline.Stop()
	for {
		s.mu.Lock()
		c, changed := s.conns[name], s.connsChanged
		s.mu.Unlock()
		if c != nil && c.ctx.Err() == nil {
			return c, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.done:
			return nil, errStopping
		case <-deadline.C:
			return nil, notConnected(name)
		}
	}
}

// expectWelcome registers a key package a stream offered, so the Welcome
// for it goes to that stream; joined reports its acknowledgement.
func (s *Service) expectWelcome(c *conn, channel string, ref mls.KeyPackageRef) chan bool {
	joined := make(chan bool, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.awaiting[ref] = &awaited{conn: c, channel: channel, joined: joined}
	return joined
}

// welcomed settles the wait for a key package's Welcome.
func (s *Service) welcomed(ref mls.KeyPackageRef, c *conn, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.awaiting[ref]
	if a == nil || a.conn != c {
		return
	}
	if a.joined != nil {
		a.joined <- ok
		a.joined = nil
	}
	if ok {
		delete(s.awaiting, ref)
	}
}

// unexpectWelcome forgets a key package that will get no Welcome.
func (s *Service) unexpectWelcome(ref mls.KeyPackageRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.awaiting, ref)
}

// awaitingConns returns, for each reference, the stream waiting for it in
// the channel.
func (s *Service) awaitingConns(channel string, refs []mls.KeyPackageRef) map[mls.KeyPackageRef]*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[mls.KeyPackageRef]*conn{}
	for _, ref := range refs {
		if a := s.awaiting[ref]; a != nil && a.channel == channel && a.conn.ctx.Err() == nil {
			out[ref] = a.conn
		}
	}
	return out
}
