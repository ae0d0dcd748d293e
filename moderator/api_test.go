package moderator_test

import (
	"context"
	"errors"
	"testing"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/sdk"
)

func TestCallErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.admit(e.newCandidate("org/ns/alice"))
	ctx := context.Background()
	signer := signerFor(t, e.suite)
	bound, err := member.FetchToken(ctx, e.broker, "team", signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	unbound := basic(t, mintAt(secretA, "org/ns/moderator", e.clock.Now(), sdk.TokenRequest{}))
	spec := func(name string, pol string, cred mls.Credential) moderator.GroupSpec {
		return moderator.GroupSpec{Name: name, Suite: e.suite, Policy: []byte(pol), Plugin: "team", Signer: signer, Credential: cred}
	}
	for _, tc := range []struct {
		name string
		do   func() error
		is   error
		want string
	}{
		{"remove a non-member", func() error { _, err := e.mod.Remove(ctx, group, "org/ns/bob", ""); return err },
			moderator.ErrNotMember, `moderator: group "org/ns/channel": "org/ns/bob" is not a member`},
		{"remove the moderator", func() error { _, err := e.mod.Remove(ctx, group, "org/ns/moderator", ""); return err },
			nil, `moderator: group "org/ns/channel": "org/ns/moderator" is the moderator, which cannot remove itself; delete the group instead`},
		{"an unknown group", func() error { _, err := e.mod.Admit(ctx, "org/ns/nope"); return err },
			sdk.ErrNotFound, `moderator: unknown group "org/ns/nope" (known: ["org/ns/channel"])`},
		{"a group that exists", func() error { _, err := e.mod.CreateGroup(ctx, spec(group, "", bound.Credential)); return err },
			moderator.ErrGroupExists, `moderator: group "org/ns/channel": group exists`},
		{"an unbound moderator credential", func() error { _, err := e.mod.CreateGroup(ctx, spec("org/ns/other", "", unbound)); return err },
			moderator.ErrUnbound, `moderator: group "org/ns/other": the moderator's own credential: token of "org/ns/moderator" binds no public key (no pubkey claim); fetch the token with the leaf's signature key bound to it`},
		{"a bad policy", func() error {
			_, err := e.mod.CreateGroup(ctx, spec("org/ns/other", "alow: {}\n", bound.Credential))
			return err
		},
			nil, `moderator: group "org/ns/other": policy: unknown key "alow" at the top level (line 1)`},
		{"a signer of another suite", func() error {
			s := spec("org/ns/other", "", bound.Credential)
			s.Suite = mls.SuiteP256AES128GCM
			_, err := e.mod.CreateGroup(ctx, s)
			return err
		}, nil, `moderator: group "org/ns/other": the moderator's signer must be for suite MLS_128_DHKEMP256_AES128GCM_SHA256_P256`},
		{"a welcome as a group message", func() error {
			res, _ := e.admit(e.newCandidate("org/ns/carol"))
			_, err := e.mod.HandleMessage(ctx, group, res.Commit.Welcome)
			return err
		}, mls.ErrMessage, `moderator: group "org/ns/channel": mls message: a mls_welcome is not a group message`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if err == nil || err.Error() != tc.want || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
	if err := e.mod.DeleteGroup(ctx, group); err != nil {
		t.Fatal(err)
	}
	e.reopen()
	if got := e.mod.Groups(); len(got) != 0 {
		t.Fatalf("groups after delete and restart: %+v", got)
	}
}
