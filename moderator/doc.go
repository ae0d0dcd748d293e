// Package moderator runs SLIM secure groups (MLS, RFC 9420) as their
// moderator: it creates groups, admits members whose credentials verify
// through the slimid broker, are bound to their MLS keys and pass the
// group's policy, removes members, commits their credential rotations, and
// removes those whose credentials expire unrenewed or lose trust. It is
// transport-agnostic: a gRPC service, a SLIM channel or files (the slimid
// group command) carry its messages.
//
// # Opening
//
// A Moderator keeps every group in one bbolt file under a state directory
// and reloads them all, each at its last durable epoch, on Open:
//
//	b, err := broker.New(ctx, cfg, broker.Options{Builtins: builtins})
//	mod, err := moderator.Open(ctx, moderator.Config{
//		StateDir: "/var/lib/slimid/moderator", // moderator.db, 0600 in a 0700 directory
//		Verifier: b,                           // or a *brokerclient.Client
//		Tokens:   b,                           // renews the moderator's own credential
//		Audit:    audit.NewLogSink(logger),
//		Logger:   logger,
//		OnCommit: transport.Push,              // every durable commit, in epoch order
//	})
//	defer mod.Close()
//	go mod.Run(ctx) // expiry, the moderator's renewal, trust changes
//
// The state file holds MLS secrets (epoch secrets, the moderator's private
// key): protect it like a private key; encryption at rest is the file
// system's.
//
// # Creating a group
//
// The moderator is the group's first member. Its credential is a token
// bound to its signature key, verified like any member's:
//
//	signer, err := mls.GenerateSigner(mls.SuiteP256AES128GCM)
//	cred, err := member.FetchToken(ctx, b, "team", signer, []string{"slim"})
//	info, err := mod.CreateGroup(ctx, moderator.GroupSpec{
//		Name: "org/ns/chat", Suite: mls.SuiteP256AES128GCM,
//		Policy: policyYAML, Audiences: []string{"slim"}, Plugin: "team",
//		Signer: signer, Credential: cred.Credential,
//	})
//
// # Admission
//
// Admit takes key packages (MLSMessage or bare bytes) and, for each,
// decodes and validates it against the group, refuses one used before,
// verifies its credential through the broker (a BasicCredential's token,
// or an X509Credential's chain), requires the token's bound key (`pubkey`)
// to equal the leaf's signature key, refuses a subject already in the group,
// and evaluates the group's policy. Those that pass join in one commit with
// one Welcome; the others are refused one by one, each with a reason a
// person can act on (errors.Is it against sdk.ErrKeyMismatch, sdk.ErrPolicy,
// ErrAlreadyMember, ...):
//
//	res, err := mod.Admit(ctx, "org/ns/chat", kpAlice, kpBob)
//	for _, r := range res.Refused {
//		reply(r.Index, r.Err) // e.g. `token of "org/ns/bob" binds key sha256:… but the leaf carries key sha256:…`
//	}
//	if res.Commit != nil {
//		send(res.Commit.To, res.Commit.Messages...)         // current members
//		send(res.Commit.WelcomeTo, res.Commit.Welcome)      // new members
//		mod.Delivered("org/ns/chat", res.Commit.Epoch)
//	}
//
// Every admission and refusal is an audit event (subject, provider, group,
// epoch, reason).
//
// # Remove, rotate, messages
//
//	out, err := mod.Remove(ctx, "org/ns/chat", "org/ns/bob", "left the team")
//
// A member renews its credential with an Update proposal (see package
// member); HandleMessage verifies the new credential, applies SLIM's
// successor rule (same subject, same provider, bound to the new leaf key)
// and commits it at once, or drops it and returns the refusal:
//
//	got, err := mod.HandleMessage(ctx, "org/ns/chat", msg)
//	// got.Commit carries the proposal, then the commit, for every member
//
// HandleMessage also decrypts application messages; Send encrypts the
// moderator's own. Members never commit: a member's commit is refused.
//
// # Lifecycle
//
// The verdict on a credential is recorded when it is verified (subject,
// provider, expiry, the credential itself) instead of re-verifying embedded
// tokens against the clock forever. Run then, every SweepInterval:
// removes a member ExpiryGrace after its credential expired unless it was
// renewed; renews the moderator's own credential at two thirds of its
// lifetime through a commit's UpdatePath; and, when the broker reports a
// trust change (TrustWatcher), verifies the recorded credentials of the
// affected plugins again at the time they were first verified, so only
// trust is tested, removing those that fail.
//
// # Durability
//
// Each change of a group is one bbolt transaction holding the new MLS
// state, the roster and the outbox entry (commit and Welcome), written
// before anything is returned or delivered. A moderator killed at any point
// restarts at its last durable epoch: Pending returns the commits not yet
// marked Delivered, to be sent again (members ignore commits they already
// applied). Once a commit for an epoch is durable the moderator never makes
// another for that epoch, so a group never forks. If a write fails (a full
// or read-only disk) the group returns to its last durable state and the
// error says so.
package moderator
