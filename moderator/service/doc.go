// Package service puts a moderator.Moderator on the network: it serves
// SLIM's channel-manager API (ChannelManager) to operators and the
// Moderator service that members connect to, both defined in
// sdk/proto/moderator/v1, with gRPC health, on a unix socket (mode 0600) or
// a loopback TCP address.
//
// The moderator is the channel's Delivery Service. A member's Connect
// stream starts with a Hello and a proof, signed with its leaf keys, of the
// memberships it claims (package proof); AddParticipant sends a JoinRequest,
// checks that the key package in the JoinReply was signed by the stream's
// owner, admits it (moderator.Admit: key package, credential through the
// broker, bound key, policy), delivers the commit to the current members,
// waits for their acknowledgements, then sends the Welcome. Every delivery
// is re-sent every RetryInterval until acknowledged, MaxRetries times (SLIM's
// 1 s × 10); a participant that stays silent is reported unresponsive (a
// warning and slimid_moderator_unresponsive_total) and gets the commit when
// it reconnects. Commits stay in the moderator's outbox until every member
// they are for acknowledged them, so after a restart they are sent again to
// the members that lack them; members ignore those they already applied.
// Application messages are decrypted to check their sender, then fanned out
// to the other connected members; Update proposals are committed and their
// commit delivered like any other.
//
//	b, err := broker.New(ctx, cfg, broker.Options{Builtins: builtins})
//	svc, err := service.Open(ctx, service.Config{
//		Moderator: moderator.Config{StateDir: "/var/lib/slimid/moderator", Verifier: b, Tokens: b, Audit: sink},
//		Plugin:    "team", // the moderator's own credential
//		Logger:    logger,
//	})
//	defer svc.Close()
//	lis, err := service.Listen("unix:///run/slimid/moderator.sock")
//	err = svc.Serve(ctx, lis) // until ctx ends; also runs the moderator's lifecycle
//
// Operators then call the ChannelManager (CreateChannel, AddParticipant,
// DeleteParticipant, ...) with any gRPC client; members connect with package
// memberclient.
package service
