package moderator_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/store"
)

// childEnv names the state directory of a moderator run as a child
// process by the crash test.
const childEnv = "SLIMID_MODERATOR_CRASH_CHILD"

type childRequest struct {
	Op      string   `json:"op"` // admit, remove, pending, delivered, info
	KPs     [][]byte `json:"kps,omitempty"`
	Subject string   `json:"subject,omitempty"`
	Epoch   uint64   `json:"epoch,omitempty"`
}

type childReply struct {
	Commit  *moderator.Outgoing  `json:"commit,omitempty"`
	Pending []moderator.Outgoing `json:"pending,omitempty"`
	Epoch   uint64               `json:"epoch"`
	Auth    []byte               `json:"auth,omitempty"`
	Roster  []string             `json:"roster,omitempty"`
	Error   string               `json:"error,omitempty"`
}

// runChild is a moderator process: it answers requests on stdin, one JSON
// line each, until stdin closes or it is killed.
func runChild(dir string) int {
	ctx := context.Background()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 1 }
	cfg, err := broker.ParseConfig([]byte(brokerYAML(secretA, false, "")), dir)
	if err != nil {
		return fail(err)
	}
	b, err := broker.New(ctx, cfg, broker.Options{Builtins: builtins})
	if err != nil {
		return fail(err)
	}
	defer b.Close()
	mod, err := moderator.Open(ctx, moderator.Config{StateDir: dir, Verifier: b, Tokens: b})
	if err != nil {
		return fail(err)
	}
	defer mod.Close()
	if len(mod.Groups()) == 0 {
		signer, err := mls.GenerateSigner(mls.SuiteX25519AES128GCM)
		if err != nil {
			return fail(err)
		}
		cred, err := member.FetchToken(ctx, b, "team", signer, nil)
		if err != nil {
			return fail(err)
		}
		if _, err := mod.CreateGroup(ctx, moderator.GroupSpec{Name: group, Suite: mls.SuiteX25519AES128GCM, Plugin: "team", Signer: signer, Credential: cred.Credential}); err != nil {
			return fail(err)
		}
	}
	out := json.NewEncoder(os.Stdout)
	out.Encode(childReply{}) // ready
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(nil, 64<<20)
	for in.Scan() {
		var req childRequest
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			return fail(err)
		}
		var rep childReply
		switch req.Op {
		case "admit":
			res, err := mod.Admit(ctx, group, req.KPs...)
			if err != nil {
				return fail(err)
			}
			if len(res.Refused) > 0 {
				return fail(res.Refused[0].Err)
			}
			rep.Commit = res.Commit
		case "remove":
			rep.Commit, err = mod.Remove(ctx, group, req.Subject, "")
		case "pending":
			rep.Pending, err = mod.Pending(group)
		case "delivered":
			err = mod.Delivered(group, req.Epoch)
		case "info":
			var info moderator.GroupInfo
			var roster []moderator.Member
			if info, err = mod.Group(group); err == nil {
				roster, err = mod.Members(group)
			}
			rep.Epoch, rep.Auth, rep.Roster = info.Epoch, info.EpochAuthenticator, subjects(roster)
		}
		if err != nil {
			return fail(err)
		}
		out.Encode(rep)
	}
	return 0
}

// child is a running moderator process.
type child struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	replies chan childReply
}

func startChild(t *testing.T, dir string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin, replies: make(chan childReply, 4)}
	go func() {
		defer close(c.replies)
		dec := json.NewDecoder(stdout)
		for {
			var r childReply
			if err := dec.Decode(&r); err != nil {
				return
			}
			c.replies <- r
		}
	}()
	if _, ok := <-c.replies; !ok {
		t.Fatal("the moderator child exited before it was ready")
	}
	return c
}

// call sends a request and waits for the reply; ok is false if the child
// died first.
func (c *child) call(t *testing.T, req childRequest) (childReply, bool) {
	t.Helper()
	c.send(t, req)
	r, ok := <-c.replies
	return r, ok
}

func (c *child) send(t *testing.T, req childRequest) {
	t.Helper()
	raw, _ := json.Marshal(req)
	c.stdin.Write(append(raw, '\n')) // a dead child's pipe error shows as a missing reply
}

// kill sends SIGKILL and returns the reply that made it out, if any.
func (c *child) kill() (childReply, bool) {
	c.cmd.Process.Kill()
	r, ok := <-c.replies
	for range c.replies {
	}
	c.cmd.Wait()
	return r, ok
}

func (c *child) stop(t *testing.T) {
	t.Helper()
	c.stdin.Close()
	for range c.replies {
	}
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("moderator child: %v", err)
	}
}

// transport plays the members and the delivery service.
type transport struct {
	t       *testing.T
	e       *env
	members map[string]*member.Member
	waiting map[string]*candidate
	commits map[uint64][32]byte // every commit seen, by epoch
	next    int
}

// deliverOut hands a commit to the members and a Welcome to the waiting
// candidates, and records it to detect forks.
func (tr *transport) deliverOut(out moderator.Outgoing) {
	t := tr.t
	t.Helper()
	sum := sha256.Sum256(out.Messages[len(out.Messages)-1])
	if prev, ok := tr.commits[out.Epoch]; ok && prev != sum {
		t.Fatalf("fork: two different commits for epoch %d", out.Epoch)
	}
	tr.commits[out.Epoch] = sum
	for _, s := range out.To {
		m, ok := tr.members[s]
		if !ok {
			continue
		}
		for _, msg := range out.Messages {
			evs, err := m.Receive(msg)
			if err != nil {
				t.Fatalf("%s at epoch %d receiving the commit to %d: %v", s, m.Epoch(), out.Epoch, err)
			}
			if slices.ContainsFunc(evs, func(e member.Event) bool { return e.Kind == member.Removed }) {
				delete(tr.members, s)
			}
		}
	}
	for _, s := range out.WelcomeTo {
		c, ok := tr.waiting[s]
		if !ok {
			continue // joined already: a re-sent Welcome
		}
		m, err := member.Join(out.Welcome, c.bundle, c.cred)
		if err != nil {
			t.Fatalf("%s joining at epoch %d: %v", s, out.Epoch, err)
		}
		tr.members[s] = m
		delete(tr.waiting, s)
	}
}

// request makes the next admission or removal.
func (tr *transport) request(rng *rand.Rand) childRequest {
	// Removals as often as admissions keep the group small and the test
	// quick.
	if len(tr.members) > 3 && rng.IntN(2) == 0 {
		names := make([]string, 0, len(tr.members))
		for s := range tr.members {
			names = append(names, s)
		}
		slices.Sort(names)
		return childRequest{Op: "remove", Subject: names[rng.IntN(len(names))]}
	}
	req := childRequest{Op: "admit"}
	for range 1 + rng.IntN(2) {
		tr.next++
		s := fmt.Sprintf("org/ns/m%03d", tr.next)
		c := tr.e.newCandidate(s)
		tr.waiting[s] = c
		req.KPs = append(req.KPs, c.kp())
	}
	return req
}

func TestCrashRestartKeepsEpochsWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a moderator process many times; run without -short")
	}
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	tr := &transport{t: t, e: &env{t: t, suite: mls.SuiteX25519AES128GCM}, members: map[string]*member.Member{},
		waiting: map[string]*candidate{}, commits: map[uint64][32]byte{}}

	c := startChild(t, dir)
	kills, durable, recovered := 0, uint64(0), 0
	recover := func() {
		c = startChild(t, dir)
		r, ok := c.call(t, childRequest{Op: "pending"})
		if !ok {
			t.Fatal("the restarted moderator died")
		}
		for _, out := range r.Pending {
			if _, seen := tr.commits[out.Epoch]; !seen {
				recovered++ // made durable, then killed before it was returned
			}
			tr.deliverOut(out)
		}
		if n := len(r.Pending); n > 0 {
			c.call(t, childRequest{Op: "delivered", Epoch: r.Pending[n-1].Epoch})
		}
		info, _ := c.call(t, childRequest{Op: "info"})
		if info.Epoch < durable {
			t.Fatalf("lost epochs: the moderator restarted at epoch %d after it had returned epoch %d", info.Epoch, durable)
		}
	}
	// Kills land anywhere in an operation's usual duration, most of which
	// is the commit and its durable write.
	opTime := 10 * time.Millisecond
	for op := 0; op < 40; op++ {
		req := tr.request(rng)
		if rng.IntN(3) == 0 {
			c.send(t, req)
			time.Sleep(time.Duration(rng.Int64N(int64(opTime) * 6 / 5)))
			if r, ok := c.kill(); ok && r.Commit != nil {
				durable = max(durable, r.Commit.Epoch)
				tr.deliverOut(*r.Commit)
			}
			kills++
			recover()
			continue
		}
		start := time.Now()
		r, ok := c.call(t, req)
		if !ok {
			t.Fatal("the moderator child died")
		}
		opTime = (opTime + time.Since(start)) / 2
		durable = r.Commit.Epoch
		tr.deliverOut(*r.Commit)
		// Half of the time the transport crashes too before it says so:
		// the commit stays in the outbox and is sent again later.
		if rng.IntN(2) == 0 {
			c.call(t, childRequest{Op: "delivered", Epoch: r.Commit.Epoch})
		}
	}
	info, _ := c.call(t, childRequest{Op: "info"})
	c.stop(t)
	t.Logf("%d kills, %d commits found only in the outbox after a kill, final epoch %d, %d members", kills, recovered, info.Epoch, len(tr.members))
	if kills == 0 {
		t.Fatal("the moderator was never killed; the test proved nothing")
	}

	// Every epoch from 1 to the last has exactly one commit, and every
	// member shares the moderator's epoch authenticator.
	for e := uint64(1); e <= info.Epoch; e++ {
		if _, ok := tr.commits[e]; !ok {
			t.Fatalf("no commit was ever delivered for epoch %d", e)
		}
	}
	want := []string{"org/ns/moderator"}
	for s, m := range tr.members {
		want = append(want, s)
		if m.Epoch() != info.Epoch || !slices.Equal(m.EpochAuthenticator(), info.Auth) {
			t.Fatalf("%s is at epoch %d, the moderator at %d (authenticators equal: %v)", s, m.Epoch(), info.Epoch, slices.Equal(m.EpochAuthenticator(), info.Auth))
		}
	}
	got := slices.Clone(info.Roster)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("moderator roster %v, members %v", got, want)
	}
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
}
