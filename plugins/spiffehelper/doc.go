// Package spiffehelper is the identity plugin for the files spiffe-helper
// writes into its cert_dir: the JWT-SVID (jwt_svid.token), the JWT bundle
// (key.jwt), and the X.509-SVID with its key and bundle (tls.crt, tls.key,
// svid_bundle.pem). It serves a workload whose SPIRE identity arrives
// through a spiffe-helper sidecar instead of the Workload API.
//
// Configuration (the file names default to spiffe-helper's, as SLIM's
// sidecar example sets them):
//
//	cert_dir: /svids
//	jwt_audiences: ["slim-demo"]   # what Verify expects; required
//	leeway: 30s                    # default
//	debounce: 10ms                 # default
//
// The plugin watches the directory, not the files, so it follows
// spiffe-helper's in-place truncate-and-write, a rename over a file, and
// Kubernetes' ..data symlink swaps. It takes nothing half written: a new
// JWT-SVID must parse, be signed by a key in key.jwt, be unexpired and be no
// older than the one in use; until such a token arrives the last good one
// stays in force.
//
// Used in process, as the broker does with built-in plugins:
//
//	p := spiffehelper.New(spiffehelper.WithRegisterer(registry))
//	defer p.Close()
//	if _, err := p.Configure(ctx, []byte("cert_dir: /svids\njwt_audiences: [slim-demo]\n")); err != nil {
//		return err
//	}
//	tok, err := p.FetchToken(ctx, sdk.TokenRequest{Audiences: []string{"slim-demo"}})
//	if err != nil {
//		return err // an outage until spiffe-helper has written a valid JWT-SVID
//	}
//	id, err := p.Verify(ctx, sdk.VerifyRequest{Token: peerToken})
//
// FetchToken cannot mint: spiffe-helper's jwt_audience fixes the audiences,
// and a public key can be bound only if that audience already carries it
// (SLIM's slim-claims audience). A request the token does not fit fails with
// sdk.ErrUnsupported. WatchToken pushes each new token; WatchKeys publishes
// one key set per trust domain in key.jwt (kid required, sub must be a
// SPIFFE ID of that trust domain) so the broker verifies in process with
// sdk/jwtverify, as Verify does.
//
// Readiness (Status) needs a valid, unexpired JWT-SVID. The gauges
// slimid_spiffehelper_token_age_seconds and
// slimid_spiffehelper_token_expiry_seconds, labelled token_file, go on
// prometheus.DefaultRegisterer unless WithRegisterer names another.
package spiffehelper
