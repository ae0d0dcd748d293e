// Package member is the member's side of a slimid group: it builds key
// packages whose credential is a token bound to the member's MLS signature
// key (exactly as SLIM does) or an X.509-SVID, joins from a Welcome,
// applies commits strictly in epoch order, sends and receives application
// messages, and rotates the credential with Update proposals that the
// moderator commits.
//
// # Joining
//
//	signer, err := mls.GenerateSigner(mls.SuiteP256AES128GCM)
//	cred, err := member.FetchToken(ctx, b, "team", signer, []string{"slim"}) // b: broker or broker client
//	bundle, err := cred.KeyPackage()
//	send(moderator, bundle.KeyPackage().Bytes())
//	...
//	m, err := member.Join(welcome, bundle, cred)
//
// An X.509-SVID works the same way; its key is the signature key (suite
// 0x0002):
//
//	cred, err := member.FetchX509(ctx, b, "spire")
//
// # Messages
//
// Receive takes every message from the group in any order: a commit for a
// later epoch is held until the ones before it arrive, a commit already
// applied (a moderator restart sends its outbox again) is ignored, and this
// member's own proposal coming back is ignored too:
//
//	events, err := m.Receive(msg)
//	for _, e := range events {
//		switch e.Kind {
//		case member.Application:
//			fmt.Printf("%s\n", e.Data)
//		case member.Removed:
//			return
//		case member.Repropose:
//			send(group, e.Data) // the Update died with its epoch: offer it again
//		}
//	}
//	out, err := m.Send([]byte("hello"))
//
// # Rotation
//
// Before its token expires the member proposes an Update with a renewed
// token (and, if it wants, a new key); the moderator checks the successor
// rule and commits it. WatchRotation does this from the broker's token
// watch:
//
//	go m.WatchRotation(ctx, b, member.Rotation{Plugin: "team", Send: func(ctx context.Context, p []byte) error {
//		return send(group, p)
//	}})
//
// # State
//
// State and Restore save and reload a membership (MLS secrets, held
// messages, a rotation in flight); Dir keeps key package bundles and
// memberships in a directory, as the slimid keypackage and group join
// commands do:
//
//	dir, err := member.OpenDir("/var/lib/slimid/member")
//	err = dir.SaveKeyPackage(bundle, cred)
//	m, err := dir.Join(welcome) // finds the key package the Welcome is for
//	err = dir.Save(m)
package member
