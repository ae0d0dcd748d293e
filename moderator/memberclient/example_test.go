package memberclient_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/memberclient"
	"github.com/slimid/slimid/moderator/service"
	"github.com/slimid/slimid/plugins/sharedsecret"
	"github.com/slimid/slimid/sdk"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// Two members, each with its own token, exchange a message through their
// moderator.
func Example() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "moderator.sock")

	// The broker mints and verifies: one shared-secret entry per identity.
	cfg, err := broker.ParseConfig([]byte(`plugins:
  - {name: team, type: shared_secret, config: {id: org/ns/moderator, random_suffix: false, data: "example-secret-0123456789abcdef0123"}}
  - {name: alice, type: shared_secret, config: {id: org/ns/alice, random_suffix: false, data: "example-secret-0123456789abcdef0123"}}
  - {name: bob, type: shared_secret, config: {id: org/ns/bob, random_suffix: false, data: "example-secret-0123456789abcdef0123"}}
`), dir)
	if err != nil {
		panic(err)
	}
	b, err := broker.New(ctx, cfg, broker.Options{Builtins: broker.Builtins{sharedsecret.Name: func() sdk.Plugin { return sharedsecret.New() }}})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	svc, err := service.Open(ctx, service.Config{
		Moderator: moderator.Config{StateDir: filepath.Join(dir, "moderator"), Verifier: b, Tokens: b}, Plugin: "team",
	})
	if err != nil {
		panic(err)
	}
	defer svc.Close()
	lis, err := service.Listen("unix://" + socket)
	if err != nil {
		panic(err)
	}
	served := make(chan error, 1)
	go func() { served <- svc.Serve(ctx, lis) }()
	defer func() { stop(); <-served }() // stop serving before svc.Close

	// The members.
	run := func(name string) *memberclient.Client {
		c, err := memberclient.New(memberclient.Config{Target: "unix://" + socket, Name: "org/ns/" + name, Tokens: b, Plugin: name})
		if err != nil {
			panic(err)
		}
		go c.Run(ctx)
		return c
	}
	alice, bob := run("alice"), run("bob")

	// An operator makes the channel and adds both in one commit.
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	cm := moderatorv1.NewChannelManagerClient(conn)
	if _, err := cm.CreateChannel(ctx, &moderatorv1.CreateChannelRequest{ChannelName: "org/ns/chat", MlsEnabled: true}); err != nil {
		panic(err)
	}
	if _, err := cm.AddParticipants(ctx, &moderatorv1.AddParticipantsRequest{
		ChannelName: "org/ns/chat", ParticipantNames: []string{"org/ns/alice", "org/ns/bob"},
	}); err != nil {
		panic(err)
	}

	for ev := range alice.Events() {
		if ev.Kind == memberclient.Joined {
			break
		}
	}
	if err := alice.Send(ctx, "org/ns/chat", []byte("hello bob")); err != nil {
		panic(err)
	}
	for ev := range bob.Events() {
		if ev.Kind == memberclient.Message {
			fmt.Printf("%s: %s\n", ev.Sender, ev.Data)
			break
		}
	}
	// Output: org/ns/alice: hello bob
}
