// Package tsmls runs ts-mls, an independent TypeScript implementation of
// MLS (RFC 9420), as a peer for Go tests, so that groups built by our Go
// code are checked against a second implementation rather than against
// themselves.
//
// Start launches `node peer.mjs` from the node/ directory beside this
// package, which speaks JSON lines on stdin/stdout (node/README.md holds
// the protocol). It needs Node.js 20.19 or later and npm on PATH; the first
// Start after the lock file changes runs `npm ci`, which needs the npm
// registry, and every later one works offline. Start skips the test under
// -short and where node or npm is missing, and kills the process when the
// test ends.
//
// A test in which ts-mls creates the group and a Go member joins:
//
//	func TestJoinTSMLSGroup(t *testing.T) {
//		peer := tsmls.Start(t)
//		ctx := t.Context()
//		alice, err := peer.NewSigner(ctx, tsmls.SuiteX25519AES128GCM)
//		// ... mint alice's identity token for alice.SignaturePublicKey ...
//		g, err := peer.CreateGroup(ctx, alice, groupID, token)
//		commit, err := g.Add(ctx, tsmls.FramingPublic, goKeyPackage) // MLSMessage bytes
//		// ... the Go member joins from commit.Welcome ...
//		msg, err := g.Send(ctx, []byte("hello"))
//		got, err := g.Process(ctx, goReply) // got.Kind == tsmls.KindApplication
//		auth, err := g.EpochAuthenticator(ctx) // equal on both sides
//	}
//
// And the other way round, a Go group adding a ts-mls member:
//
//	kp, err := peer.NewKeyPackage(ctx, signer, token, nil)
//	// ... the Go group commits an Add of kp.Message ...
//	member, err := peer.Join(ctx, welcome, kp.ID)
//	processed, err := member.Process(ctx, nextCommit)
//
// Every credential ts-mls checks passes through the peer's admission hook:
// Validations lists them with the command that caused each check, and
// Refuse makes ts-mls reject chosen identities. Bench times ts-mls itself,
// inside node, for a group of n members.
//
// All bytes in and out are MLSMessage wire bytes. The peer offers suites 1
// and 3 only: ts-mls 1.6.4 encodes suite 2 signature keys compressed,
// which RFC 9420 forbids.
package tsmls
