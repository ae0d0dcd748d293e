package service_test

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
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// The moderator on a unix socket, an operator creating a channel and adding
// a participant, and the participant joining.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	// A broker: one shared-secret entry for the moderator, one for alice.
	cfg, err := broker.ParseConfig([]byte(`plugins:
  - {name: team, type: shared_secret, config: {id: org/ns/moderator, random_suffix: false, data: "example-secret-0123456789abcdef0123"}}
  - {name: alice, type: shared_secret, config: {id: org/ns/alice, random_suffix: false, data: "example-secret-0123456789abcdef0123"}}
`), dir)
	if err != nil {
		panic(err)
	}
	b, err := broker.New(ctx, cfg, broker.Options{Builtins: builtins})
	if err != nil {
		panic(err)
	}
	defer b.Close()

	// The moderator.
	svc, err := service.Open(ctx, service.Config{
		Moderator: moderator.Config{StateDir: filepath.Join(dir, "moderator"), Verifier: b, Tokens: b},
		Plugin:    "team",
	})
	if err != nil {
		panic(err)
	}
	defer svc.Close()
	socket := filepath.Join(dir, "moderator.sock")
	lis, err := service.Listen("unix://" + socket)
	if err != nil {
		panic(err)
	}
	serving, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- svc.Serve(serving, lis) }()
	defer func() { stop(); <-served }() // stop serving before svc.Close

	// A member, connected.
	alice, err := memberclient.New(memberclient.Config{Target: "unix://" + socket, Name: "org/ns/alice", Tokens: b, Plugin: "alice"})
	if err != nil {
		panic(err)
	}
	go alice.Run(serving)

	// The operator.
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	cm := moderatorv1.NewChannelManagerClient(conn)
	if _, err := cm.CreateChannel(ctx, &moderatorv1.CreateChannelRequest{ChannelName: "org/ns/chat", MlsEnabled: true}); err != nil {
		panic(err)
	}
	res, err := cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: "org/ns/chat", ParticipantName: "org/ns/alice"})
	if err != nil {
		panic(err)
	}
	p := res.GetParticipant()
	fmt.Printf("%s admitted at epoch %d: leaf %d, verified by %s\n", p.GetSubject(), res.GetEpoch(), p.GetLeaf(), p.GetProvider())
	for ev := range alice.Events() {
		if ev.Kind == memberclient.Joined {
			fmt.Printf("alice joined %s at epoch %d\n", ev.Channel, ev.Epoch)
			break
		}
	}
	// Output:
	// org/ns/alice admitted at epoch 1: leaf 1, verified by team
	// alice joined org/ns/chat at epoch 1
}
