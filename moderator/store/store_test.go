package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/slimid/slimid/moderator/store"
)

const name = "org/ns/channel"

func open(t *testing.T, dir string) *store.Store {
	t.Helper()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func create(t *testing.T, s *store.Store) {
	t.Helper()
	info := store.GroupInfo{Name: name, Suite: 1, CreatedAt: time.Unix(1_800_000_000, 0).UTC()}
	if err := s.CreateGroup(info, 0, []byte("state0"), []store.Member{{Leaf: 0, Subject: "mod", Moderator: true}}); err != nil {
		t.Fatal(err)
	}
}

func add(epoch uint64, leaf uint32, subject string) store.Change {
	return store.Change{
		Epoch:    epoch,
		State:    []byte("state" + string(rune('0'+epoch))),
		Put:      []store.Member{{Leaf: leaf, Subject: subject, JoinedEpoch: epoch}},
		Outgoing: &store.Outgoing{Epoch: epoch, Messages: [][]byte{[]byte("commit")}, Welcome: []byte("welcome"), WelcomeTo: []string{subject}},
		Used:     []store.KeyPackageUse{{Ref: [32]byte{byte(epoch)}, NotAfter: time.Unix(1_800_000_000+int64(epoch)*60, 0).UTC()}},
	}
}

func TestChangesAreDurableInOrder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := open(t, dir)
	create(t, s)
	if err := s.Apply(name, add(1, 1, "alice")); err != nil {
		t.Fatal(err)
	}
	ch := add(2, 2, "bob")
	ch.Delete = []uint32{1}
	ch.ForgetUsedBefore = time.Unix(1_800_000_000+61, 0)
	if err := s.Apply(name, ch); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, dir)
	g, err := s.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	var roster []string
	for _, m := range g.Roster {
		roster = append(roster, m.Subject)
	}
	if g.Epoch != 2 || string(g.State) != "state2" || !slices.Equal(roster, []string{"mod", "bob"}) || len(g.Outbox) != 2 || g.Outbox[1].Epoch != 2 {
		t.Fatalf("loaded %+v", g)
	}
	if len(g.Used) != 1 || g.Used[0].Ref[0] != 2 {
		t.Fatalf("used key packages %+v; want only epoch 2's", g.Used)
	}
	if err := s.Delivered(name, 1); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Pending(name); len(p) != 1 || p[0].Epoch != 2 {
		t.Fatalf("pending after delivering epoch 1: %+v", p)
	}
	names, _ := s.Groups()
	if !slices.Equal(names, []string{name}) {
		t.Fatalf("groups %v", names)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		do   func() error
		is   error
		want string
	}{
		{"a second commit for an epoch", func() error { return s.Apply(name, add(2, 3, "carol")) }, store.ErrEpoch,
			`store: change out of epoch order: group "org/ns/channel" is durable at epoch 2; a change to epoch 2 would fork it`},
		{"a skipped epoch", func() error { return s.Apply(name, add(4, 3, "carol")) }, store.ErrEpoch,
			`store: change out of epoch order: group "org/ns/channel" is durable at epoch 2; a change to epoch 4 would fork it`},
		{"a state save at another epoch", func() error { return s.Apply(name, store.Change{Epoch: 3, State: []byte("x")}) }, store.ErrEpoch,
			`store: change out of epoch order: group "org/ns/channel" is durable at epoch 2; a change to epoch 3 would fork it`},
		{"an unknown group", func() error { return s.Apply("nope", add(1, 1, "a")) }, store.ErrNotFound, `store: group "nope": no such group`},
		{"an existing group", func() error {
			return s.CreateGroup(store.GroupInfo{Name: name}, 0, nil, nil)
		}, store.ErrExists, `store: group "org/ns/channel": group exists`},
		{"an empty name", func() error { return s.CreateGroup(store.GroupInfo{}, 0, nil, nil) }, nil, "store: group name is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if err == nil || err.Error() != tc.want || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
	if g, _ := s.Load(name); g.Epoch != 2 || len(g.Roster) != 2 {
		t.Fatalf("refused changes changed the group: %+v", g)
	}
}

func TestFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir)
	s.Close()
	for path, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, filepath.Join(dir, store.FileName): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != want {
			t.Fatalf("%s: %v, %v; want mode %v", path, fi.Mode(), err, want)
		}
	}
	db := filepath.Join(dir, store.FileName)
	os.Chmod(db, 0o644)
	_, err := store.Open(dir)
	want := "store: " + db + " is open to other users (mode 644) and holds MLS secrets; run: chmod 600 " + db
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestSchemaVersion(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.Close()
	db, err := bolt.Open(filepath.Join(dir, store.FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("2")) })
	db.Close()
	_, err = store.Open(dir)
	if !errors.Is(err, store.ErrSchema) || !strings.HasSuffix(err.Error(), "has schema 2, newer than this slimid's 1; upgrade slimid") {
		t.Fatalf("got %v", err)
	}
}

func TestLockedByAnotherOpen(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	_, err := store.Open(dir)
	want := "store: in use by another process: opening " + filepath.Join(dir, store.FileName) + ": another process (a running moderator?) holds it; stop it or use another state directory"
	if !errors.Is(err, store.ErrLocked) || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
