package moderator_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/audit"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/plugins/sharedsecret"
	"github.com/slimid/slimid/sdk"
)

const (
	secretA = "moderator-test-secret-a-0123456789abcdef"
	secretB = "moderator-test-secret-b-0123456789abcdef"
	secretC = "moderator-test-secret-c-0123456789abcdef"
	group   = "org/ns/channel"
)

var builtins = broker.Builtins{sharedsecret.Name: func() sdk.Plugin { return sharedsecret.New() }}

// brokerYAML is a shared-secret plugin entry "team" for the moderator, and
// any extra entries.
func brokerYAML(secret string, cacheOff bool, extra string) string {
	cache := ""
	if cacheOff {
		cache = "cache:\n  max_entries: -1\n"
	}
	return fmt.Sprintf("%splugins:\n  - name: team\n    type: shared_secret\n    config:\n      id: org/ns/moderator\n      random_suffix: false\n      data: %q\n%s", cache, secret, extra)
}

func parseBroker(t testing.TB, yaml string) *broker.Config {
	t.Helper()
	cfg, err := broker.ParseConfig([]byte(yaml), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startBroker(t testing.TB, yaml string) *broker.Broker {
	t.Helper()
	b, err := broker.New(context.Background(), parseBroker(t, yaml), broker.Options{Builtins: builtins})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// events collects audit events.
type events struct {
	mu  sync.Mutex
	all []audit.Event
	// recorded, when set, is signalled after each event.
	recorded chan struct{}
}

func (e *events) Record(ev audit.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
	if e.recorded != nil {
		select {
		case e.recorded <- struct{}{}:
		default:
		}
	}
	return nil
}

func (e *events) of(kind audit.Kind) []audit.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []audit.Event
	for _, ev := range e.all {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// env is a broker, a moderator with one group, and its audit trail.
type env struct {
	t      testing.TB
	broker *broker.Broker
	mod    *moderator.Moderator
	clock  *clock
	audit  *events
	dir    string
	suite  mls.Suite
	cfg    moderator.Config
}

type envOptions struct {
	suite     mls.Suite
	policy    string
	audiences []string
	cacheOff  bool
	grace     time.Duration
	onCommit  func(string, moderator.Outgoing)
	// brokerTokens: the moderator's tokens come from the broker's plugin
	// (dated by the real clock) instead of a minter on the test clock.
	brokerTokens bool
	// extraPlugins are more broker plugin entries, YAML.
	extraPlugins string
	logger       *slog.Logger
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	if o.suite == 0 {
		o.suite = mls.SuiteX25519AES128GCM
	}
	e := &env{t: t, broker: startBroker(t, brokerYAML(secretA, o.cacheOff, o.extraPlugins)), clock: newClock(), audit: &events{}, dir: t.TempDir(), suite: o.suite}
	var tokens moderator.TokenFetcher = &clockMinter{subject: "org/ns/moderator", secret: secretA, clock: e.clock}
	if o.brokerTokens {
		tokens = e.broker
	}
	e.cfg = moderator.Config{
		StateDir: e.dir, Verifier: e.broker, Tokens: tokens, Audit: e.audit, Clock: e.clock.Now,
		ExpiryGrace: o.grace, OnCommit: o.onCommit, Logger: o.logger,
	}
	e.open()
	signer, err := mls.GenerateSigner(o.suite)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := member.FetchToken(context.Background(), tokens, "team", signer, o.audiences)
	if err != nil {
		t.Fatal(err)
	}
	var pol []byte
	if o.policy != "" {
		pol = []byte(o.policy)
	}
	if _, err := e.mod.CreateGroup(context.Background(), moderator.GroupSpec{
		Name: group, Suite: o.suite, Policy: pol, Audiences: o.audiences, Plugin: "team", Signer: signer, Credential: cred.Credential,
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) open() {
	e.t.Helper()
	m, err := moderator.Open(context.Background(), e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mod = m
	e.t.Cleanup(func() { m.Close() })
}

// reopen closes the moderator and opens the state again.
func (e *env) reopen() {
	e.t.Helper()
	if err := e.mod.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.open()
}

// minter mints shared-secret tokens for one subject, outside the broker.
type minter struct{ p *sharedsecret.Plugin }

func newMinter(t testing.TB, subject, secret string) *minter {
	t.Helper()
	p := sharedsecret.New()
	if _, err := p.Configure(context.Background(), fmt.Appendf(nil, "id: %s\nrandom_suffix: false\ndata: %q\n", subject, secret)); err != nil {
		t.Fatal(err)
	}
	return &minter{p: p}
}

func (m *minter) FetchToken(ctx context.Context, _ string, req sdk.TokenRequest) (sdk.Token, error) {
	return m.p.FetchToken(ctx, req)
}

// clockMinter mints SLIM shared-secret tokens dated by a clock, so that
// token lifetimes follow the moderator's injected clock.
type clockMinter struct {
	subject, secret string
	clock           *clock
}

func (c *clockMinter) FetchToken(_ context.Context, _ string, req sdk.TokenRequest) (sdk.Token, error) {
	return mintAt(c.secret, c.subject, c.clock.Now(), req), nil
}

// mintAt writes a shared-secret token `id:ts:nonce:claims:mac` issued at ts.
func mintAt(secret, id string, ts time.Time, req sdk.TokenRequest) sdk.Token {
	b64 := base64.RawURLEncoding
	claims := map[string]any{}
	if len(req.PublicKey) > 0 {
		claims["pubkey"] = base64.StdEncoding.EncodeToString(req.PublicKey)
	}
	if len(req.Audiences) > 0 {
		claims["aud"] = req.Audiences
	}
	enc := ""
	if len(claims) > 0 {
		raw, _ := json.Marshal(claims)
		enc = b64.EncodeToString(raw)
	}
	nonce := make([]byte, 12)
	rand.Read(nonce)
	ts = ts.Truncate(time.Second)
	signed := fmt.Sprintf("%s:%d:%s:%s", id, ts.Unix(), b64.EncodeToString(nonce), enc)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signed))
	return sdk.Token{Value: signed + ":" + b64.EncodeToString(mac.Sum(nil)), Subject: id, IssuedAt: ts, ExpiresAt: ts.Add(time.Hour)}
}

// candidate is a would-be member: its credential and key package bundle.
type candidate struct {
	subject string
	minter  *minter
	cred    member.Credential
	bundle  *mls.KeyPackageBundle
}

// newCandidate makes a key package whose token, from the shared-secret
// plugin, is bound to its own key.
func (e *env) newCandidate(subject string, audiences ...string) *candidate {
	e.t.Helper()
	m := newMinter(e.t, subject, secretA)
	c := e.candidateFrom(subject, m, audiences...)
	c.minter = m
	return c
}

// candidateFrom makes a key package with a token from src.
func (e *env) candidateFrom(subject string, src member.TokenFetcher, audiences ...string) *candidate {
	e.t.Helper()
	c := &candidate{subject: subject}
	signer, err := mls.GenerateSigner(e.suite)
	if err != nil {
		e.t.Fatal(err)
	}
	if c.cred, err = member.FetchToken(context.Background(), src, "", signer, audiences); err != nil {
		e.t.Fatal(err)
	}
	if c.bundle, err = c.cred.KeyPackage(); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (c *candidate) kp() []byte { return c.bundle.KeyPackage().Bytes() }

// admit admits candidates, failing the test on any refusal, and joins them.
func (e *env) admit(cs ...*candidate) (*moderator.Admission, []*member.Member) {
	e.t.Helper()
	kps := make([][]byte, len(cs))
	for i, c := range cs {
		kps[i] = c.kp()
	}
	res, err := e.mod.Admit(context.Background(), group, kps...)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(res.Refused) > 0 {
		e.t.Fatalf("refused: %v", res.Refused[0].Err)
	}
	members := make([]*member.Member, len(cs))
	for i, c := range cs {
		m, err := member.Join(res.Commit.Welcome, c.bundle, c.cred)
		if err != nil {
			e.t.Fatal(err)
		}
		members[i] = m
	}
	return res, members
}

// deliver applies a commit to members, failing on any error.
func deliver(t testing.TB, out *moderator.Outgoing, members ...*member.Member) {
	t.Helper()
	for _, m := range members {
		for _, msg := range out.Messages {
			if _, err := m.Receive(msg); err != nil {
				t.Fatalf("member at leaf %d: %v", m.Leaf(), err)
			}
		}
	}
}

// converged checks that every member shares the moderator's epoch and
// epoch authenticator.
func (e *env) converged(members ...*member.Member) {
	e.t.Helper()
	info, err := e.mod.Group(group)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range members {
		if m.Epoch() != info.Epoch || !slices.Equal(m.EpochAuthenticator(), info.EpochAuthenticator) {
			e.t.Fatalf("member at leaf %d is at epoch %d, the moderator at %d (authenticators equal: %v)",
				m.Leaf(), m.Epoch(), info.Epoch, slices.Equal(m.EpochAuthenticator(), info.EpochAuthenticator))
		}
	}
}

func subjects(ms []moderator.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Subject
	}
	return out
}
