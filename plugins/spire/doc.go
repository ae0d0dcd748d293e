// Package spire is the identity plugin for SPIRE: it serves the workload's
// SPIFFE identities from a SPIRE agent's Workload API (go-spiffe v2) and
// verifies those of its peers.
//
//   - FetchToken and WatchToken hand out JWT-SVIDs. A bound MLS key travels
//     as SLIM's extra audience `slim-claims:<base64 JSON {"pubkey": ...}>`,
//     since SPIRE cannot add claims; SLIM members read it the same way.
//   - Verify checks JWT-SVIDs against the JWT bundles the agent streams, its
//     own trust domain's and federated ones, with sdk/jwtverify; WatchKeys
//     publishes the very same snapshot so the broker verifies in process
//     and reaches the same verdicts.
//   - FetchX509SVID and VerifyX509 serve X.509-SVIDs as MLS X509
//     credentials: the SPIFFE ID in the URI SAN is the member, the leaf key
//     (EC P-256 by default) its signature key.
//   - Status says whether the agent serves the configured identity, and why
//     not. Through an agent outage the plugin reconnects with backoff and
//     keeps serving what has not expired: cached tokens, the last X.509-SVID
//     and the last bundles. It never hands out an expired token.
//
// Use it built in, or as the external binary cmd/slimid-plugin-spire:
//
//	p := spire.New()
//	p.SetLogger(log)
//	_, err := p.Configure(ctx, []byte(`
//	socket_path: unix:///run/spire/agent-sockets/api.sock
//	jwt_audiences: [slim]
//	`))
//	...
//	tok, err := p.FetchToken(ctx, sdk.TokenRequest{PublicKey: mlsSignatureKey})
//	id, err := p.Verify(ctx, sdk.VerifyRequest{Token: tok.Value})
//	// id.Subject == "spiffe://example.org/workload", id.PublicKey == mlsSignatureKey
//
// Tests run against a real SPIRE server and agent (package spiretest);
// `go test -short` runs only those that need neither.
package spire
