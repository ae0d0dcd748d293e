package store_test

import (
	"fmt"
	"os"
	"time"

	"github.com/slimid/slimid/moderator/store"
)

func Example() {
	dir, _ := os.MkdirTemp("", "store-example-")
	defer os.RemoveAll(dir)
	s, err := store.Open(dir)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	info := store.GroupInfo{Name: "org/ns/chat", Suite: 2, CreatedAt: time.Now()}
	s.CreateGroup(info, 0, []byte("mls state at epoch 0"), []store.Member{{Leaf: 0, Subject: "org/ns/moderator", Moderator: true}})

	// Admitting alice: state, roster and outbox in one transaction.
	err = s.Apply("org/ns/chat", store.Change{
		Epoch:    1,
		State:    []byte("mls state at epoch 1"),
		Put:      []store.Member{{Leaf: 1, Subject: "org/ns/alice", JoinedEpoch: 1}},
		Outgoing: &store.Outgoing{Epoch: 1, Messages: [][]byte{[]byte("commit")}, Welcome: []byte("welcome"), WelcomeTo: []string{"org/ns/alice"}},
	})
	fmt.Println("apply:", err)
	// Another commit for epoch 1 would fork the group.
	err = s.Apply("org/ns/chat", store.Change{Epoch: 1, State: []byte("other"), Outgoing: &store.Outgoing{Epoch: 1}})
	fmt.Println("fork:", err)

	pending, _ := s.Pending("org/ns/chat")
	fmt.Println("to deliver:", len(pending), "commit(s), welcome to", pending[0].WelcomeTo)
	s.Delivered("org/ns/chat", 1)
	pending, _ = s.Pending("org/ns/chat")
	fmt.Println("after delivery:", len(pending))
	// Output:
	// apply: <nil>
	// fork: store: change out of epoch order: group "org/ns/chat" is durable at epoch 1; a change to epoch 1 would fork it
	// to deliver: 1 commit(s), welcome to [org/ns/alice]
	// after delivery: 0
}
