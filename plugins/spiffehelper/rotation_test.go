package spiffehelper_test

import (
	"crypto/ecdsa"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slimid/slimid/plugins/spiffehelper"
	"github.com/slimid/slimid/sdk"
)

// TestRotationWhileReading rotates the files the way each writer does, with
// junk between rotations (half-written, empty, stale, expired and forged
// tokens), while readers fetch, verify and fetch the X.509-SVID in a loop.
// No reader may ever get a token or SVID that was not written whole and
// valid, no reader may go back to an older token, and WatchToken must push
// every new token, in order, exactly once.
func TestRotationWhileReading(t *testing.T) {
	rotations := 40
	if testing.Short() {
		rotations = 8
	}
	for _, mode := range writeModes {
		t.Run(string(mode), func(t *testing.T) {
			rotate(t, mode, rotations)
		})
	}
}

// rotation is everything written at one step, prepared before readers
// start so they can look tokens up without locking.
type rotation struct {
	token    string
	keyJWT   []byte // new key.jwt written after the token (a key rotation)
	svid     *x509Files
	junk     [][]byte
	newerKey bool
}

func rotate(t *testing.T, mode writeMode, rotations int) {
	// Pauses longer than the debounce, so the plugin reads half-written files.
	h := newHelperDir(t, mode, 15*time.Millisecond)
	a := newAuthority(t, "example.org")
	forger := newAuthority(t, "example.org") // same trust domain and kid, other key
	first := keyJWT(t, a)
	k1 := a.keys[0]
	k2 := a.addKey(t)
	second := keyJWT(t, a)

	base := time.Now().Add(-time.Duration(rotations+5) * time.Second)
	steps := make([]rotation, rotations+1)
	index := map[string]int{}
	leaves := map[string]bool{}
	for i := range steps {
		key := k1
		if i >= rotations/2 {
			key = k2
		}
		st := &steps[i]
		st.token = key.sign(t, a, svidClaims{issuedAt: base.Add(time.Duration(i) * time.Second), jti: fmt.Sprintf("good-%d", i)})
		index[st.token] = i
		if i == rotations/2 {
			st.keyJWT, st.newerKey = second, true
		}
		if i%3 == 0 {
			svid := a.svid(t, "/workload")
			st.svid = &svid
			leaves[string(svid.leaf.Raw)] = true
		}
		st.junk = [][]byte{
			[]byte(st.token[:len(st.token)/2]),
			{},
			[]byte(k1.sign(t, a, svidClaims{issuedAt: base.Add(time.Duration(i-2) * time.Second), jti: fmt.Sprintf("stale-%d", i)})),
			[]byte(k1.sign(t, a, svidClaims{issuedAt: time.Now().Add(-2 * time.Hour), expiresAt: time.Now().Add(-10 * time.Minute)})),
			// Newer than every good token, and expired only within Verify's leeway.
			[]byte(k1.sign(t, a, svidClaims{issuedAt: time.Now().Add(-2 * time.Second), expiresAt: time.Now().Add(-time.Second)})),
			[]byte(forger.sign(t, svidClaims{issuedAt: time.Now(), jti: fmt.Sprintf("forged-%d", i)})),
			[]byte("not a token\n"),
		}
	}

	h.write(file{"key.jwt", first}, file{"tls.crt", steps[0].svid.cert}, file{"tls.key", steps[0].svid.key},
		file{"svid_bundle.pem", steps[0].svid.bundle}, file{"jwt_svid.token", []byte(steps[0].token)})
	p, _, _ := configured(t, h.dir, "")
	pushed := watchTokens(t, p, sdk.TokenRequest{Audiences: []string{"slim-demo"}})
	if got := next(t, pushed); got.Value != steps[0].token {
		t.Fatalf("first push is not the token on disk")
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	for range 2 {
		wg.Go(func() { readLoop(t, p, index, leaves, stop, &reads) })
	}

	for i := 1; i <= rotations; i++ {
		st := steps[i]
		for _, junk := range st.junk {
			h.write(file{"jwt_svid.token", junk})
		}
		switch {
		case st.newerKey && mode == dataSwap:
			h.write(file{"jwt_svid.token", []byte(st.token)}, file{"key.jwt", st.keyJWT})
		case st.newerKey:
			// The token signed by the new key lands before the bundle
			// that holds the key: it must wait for key.jwt.
			h.write(file{"jwt_svid.token", []byte(st.token)})
			h.write(file{"key.jwt", st.keyJWT})
		default:
			h.write(file{"jwt_svid.token", []byte(st.token)})
		}
		if st.svid != nil {
			h.write(file{"tls.crt", st.svid.cert}, file{"tls.key", st.svid.key}, file{"svid_bundle.pem", st.svid.bundle})
		}
		got := next(t, pushed)
		if n, ok := index[got.Value]; !ok || n != i {
			t.Fatalf("rotation %d: WatchToken pushed %s; want token %d", i, describe(index, got.Value), i)
		}
	}
	close(stop)
	wg.Wait()
	if reads.Load() == 0 {
		t.Fatal("the readers never read")
	}
	select {
	case extra := <-pushed:
		t.Fatalf("WatchToken pushed %s after the last rotation", describe(index, extra.Value))
	default:
	}
	t.Logf("%d rotations, %d reads", rotations, reads.Load())
}

// readLoop fetches, verifies and fetches the X.509-SVID until stop closes.
func readLoop(t *testing.T, p *spiffehelper.Plugin, index map[string]int, leaves map[string]bool, stop <-chan struct{}, reads *atomic.Int64) {
	ctx := t.Context()
	last := 0
	for {
		select {
		case <-stop:
			return
		default:
		}
		tok, err := p.FetchToken(ctx, sdk.TokenRequest{Audiences: []string{"slim-demo"}})
		if err != nil {
			t.Errorf("FetchToken: %v", err)
			return
		}
		n, ok := index[tok.Value]
		if !ok {
			t.Errorf("FetchToken handed out %s", describe(index, tok.Value))
			return
		}
		if n < last {
			t.Errorf("FetchToken went back from token %d to token %d", last, n)
			return
		}
		last = n
		if _, err := p.Verify(ctx, sdk.VerifyRequest{Token: tok.Value}); err != nil {
			t.Errorf("Verify(token %d): %v", n, err)
			return
		}
		svid, err := p.FetchX509SVID(ctx)
		if err != nil {
			t.Errorf("FetchX509SVID: %v", err)
			return
		}
		leaf := svid.Chain[0]
		if !leaves[string(leaf.Raw)] {
			t.Error("FetchX509SVID handed out a certificate that was never written whole")
			return
		}
		if !svid.PrivateKey.Public().(*ecdsa.PublicKey).Equal(leaf.PublicKey) {
			t.Error("FetchX509SVID handed out a key that does not match its certificate")
			return
		}
		reads.Add(1)
		// Leave the two cores some room for the writer and the watcher.
		time.Sleep(100 * time.Microsecond)
	}
}

// describe names a token for a failure message without printing it whole.
func describe(index map[string]int, value string) string {
	if n, ok := index[value]; ok {
		return fmt.Sprintf("token %d", n)
	}
	if len(value) > 24 {
		value = value[:24] + "..."
	}
	return fmt.Sprintf("a token never written whole and valid (%q)", value)
}
