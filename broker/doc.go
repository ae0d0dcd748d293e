// Package broker loads slimid's identity plugins, keeps them running, and
// routes token requests and verifications to them.
//
//	cfg, err := broker.LoadConfig("slimid.yaml")
//	b, err := broker.New(ctx, cfg, broker.Options{Builtins: builtins, Logger: log})
//	defer b.Close()
//	tok, err := b.FetchToken(ctx, "team", sdk.TokenRequest{PublicKey: mlsKey})
//	id, err := b.Verify(ctx, "", sdk.VerifyRequest{Token: peerToken, Audiences: []string{"slim"}})
//
// Each plugin entry runs as one instance at a time: built-in plugins over an
// in-memory gRPC pipe, external binaries through go-plugin (absolute path,
// pinned sha256, mutual TLS, killed with the broker). A supervisor restarts a
// crashed external plugin with exponential backoff and jitter; while it is
// down every call fails with sdk.ErrUnavailable, cached verdicts included.
//
// Verify answers from, in order: the verified-token cache (bounded LRU; an
// entry dies with its token, and with any key change, restart or reload of
// its plugin), the keys the plugin publishes (JWT-family tokens verified in
// process with sdk/jwtverify), and the plugin's own Verify.
//
// Reload applies a new configuration without a gap: new or changed plugins
// are started, configured and ready before they replace the running ones,
// which then drain; if any fails, nothing changes.
//
// Server serves the broker API (FetchToken, WatchToken, Verify, ListPlugins,
// Reload) and gRPC health on a unix socket; HTTPHandler serves /healthz,
// /readyz and /metrics.
package broker
