package service_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/slimid/slimid/moderator/memberclient"
	"github.com/slimid/slimid/moderator/service"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// TestChannelManagerErrors checks each refusal's code and exact text.
func TestChannelManagerErrors(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(c *service.Config) { c.RetryInterval, c.MaxRetries = 10*time.Millisecond, 2 }, "alice")
	e.createChannel(ctx)
	alice := e.member("alice", "", nil)
	if _, err := e.cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: channel, ParticipantName: alice.name}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		code codes.Code
		msg  string
	}{{
		name: "mls disabled",
		call: func() error {
			_, err := e.cm.CreateChannel(ctx, &moderatorv1.CreateChannelRequest{ChannelName: "org/ns/plain"})
			return err
		},
		code: codes.InvalidArgument,
		msg:  `channel "org/ns/plain": mls_enabled is false, but slimid moderates MLS groups only; set mls_enabled to true`,
	}, {
		name: "unknown suite",
		call: func() error {
			_, err := e.cm.CreateChannel(ctx, &moderatorv1.CreateChannelRequest{ChannelName: "org/ns/x", MlsEnabled: true, Suite: 7})
			return err
		},
		code: codes.InvalidArgument,
		msg:  `channel "org/ns/x": suite 7 is not supported; use 1, 2 (SLIM's default) or 3`,
	}, {
		name: "empty channel name",
		call: func() error {
			_, err := e.cm.CreateChannel(ctx, &moderatorv1.CreateChannelRequest{MlsEnabled: true})
			return err
		},
		code: codes.InvalidArgument,
		msg:  `channel_name is empty`,
	}, {
		name: "channel exists",
		call: func() error {
			_, err := e.cm.CreateChannel(ctx, &moderatorv1.CreateChannelRequest{ChannelName: channel, MlsEnabled: true})
			return err
		},
		code: codes.AlreadyExists,
		msg:  `channel "org/ns/chat" exists already`,
	}, {
		name: "unknown channel",
		call: func() error {
			_, err := e.cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: "org/ns/none", ParticipantName: alice.name})
			return err
		},
		code: codes.NotFound,
		msg:  `unknown group "org/ns/none" (known: ["org/ns/chat"])`,
	}, {
		name: "participant not connected",
		call: func() error {
			_, err := e.cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: channel, ParticipantName: "org/ns/nobody"})
			return err
		},
		code: codes.Unavailable,
		msg:  `participant "org/ns/nobody" is not connected to the moderator; start it and try again`,
	}, {
		name: "already a member",
		call: func() error {
			_, err := e.cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: channel, ParticipantName: alice.name})
			return err
		},
		code: codes.AlreadyExists,
		msg:  `participant "org/ns/alice" is already a member of channel "org/ns/chat" (subject "org/ns/alice")`,
	}, {
		name: "delete unknown participant",
		call: func() error {
			_, err := e.cm.DeleteParticipant(ctx, &moderatorv1.DeleteParticipantRequest{ChannelName: channel, ParticipantName: "org/ns/nobody"})
			return err
		},
		code: codes.NotFound,
		msg:  `no participant "org/ns/nobody" in channel "org/ns/chat" (members: org/ns/alice)`,
	}, {
		name: "list unknown channel",
		call: func() error {
			_, err := e.cm.ListParticipants(ctx, &moderatorv1.ListParticipantsRequest{ChannelName: "org/ns/none"})
			return err
		},
		code: codes.NotFound,
		msg:  `unknown group "org/ns/none" (known: ["org/ns/chat"])`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := status.Convert(tt.call())
			if st.Code() != tt.code || st.Message() != tt.msg {
				t.Fatalf("got %s %q\nwant %s %q", st.Code(), st.Message(), tt.code, tt.msg)
			}
		})
	}
}

// TestRotation: a member's renewed token goes out as an Update proposal,
// the moderator commits it, and every member reaches the new epoch with
// the same epoch authenticator and the new credential in the roster.
func TestRotation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, "alice", "bob")
	e.createChannel(ctx)
	alice := e.member("alice", "", nil)
	bob := e.member("bob", "", nil)
	if _, err := e.cm.AddParticipants(ctx, &moderatorv1.AddParticipantsRequest{ChannelName: channel, ParticipantNames: []string{alice.name, bob.name}}); err != nil {
		t.Fatal(err)
	}
	bob.atEpoch(t, 1)
	before, _ := bob.c.Membership(channel)
	if err := bob.c.Rotate(ctx, channel); err != nil {
		t.Fatal(err)
	}
	rotated := bob.rec.wait(t, "bob's rotation", func(ev memberclient.Event) bool { return ev.Kind == memberclient.Rotated })
	if rotated.Epoch != 2 {
		t.Fatalf("rotated at epoch %d, want 2", rotated.Epoch)
	}
	alice.atEpoch(t, 2)
	after, _ := bob.c.Membership(channel)
	if after.Credential.Credential.Equal(before.Credential.Credential) {
		t.Fatal("bob's credential did not change")
	}
	roster, err := e.svc.Moderator().Members(channel)
	if err != nil {
		t.Fatal(err)
	}
	if got := roster[after.Leaf]; got.Subject != "org/ns/bob" || !bytes.Equal(got.Token, after.Credential.Credential.Identity()) {
		t.Fatalf("the roster holds %q's old token", got.Subject)
	}
	a, _ := alice.c.Membership(channel)
	if want := e.group().EpochAuthenticator; !bytes.Equal(a.EpochAuthenticator, want) || !bytes.Equal(after.EpochAuthenticator, want) {
		t.Fatal("members disagree with the moderator on the epoch authenticator")
	}
	if err := bob.c.Send(ctx, channel, []byte("with my new token")); err != nil {
		t.Fatal(err)
	}
	alice.rec.wait(t, "bob's message", func(ev memberclient.Event) bool { return string(ev.Data) == "with my new token" })
}
