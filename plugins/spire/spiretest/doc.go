// Package spiretest runs a real SPIRE server and agent for tests: the
// Workload API that plugins talk to is SPIRE's own, not a fake.
//
// A test starts a deployment and points the code under test at its
// Workload API:
//
//	func TestFetch(t *testing.T) {
//		env := spiretest.Start(t, spiretest.Options{JWTSVIDTTL: 30 * time.Second})
//		client, err := workloadapi.New(t.Context(), workloadapi.WithAddr(env.WorkloadAPIAddr))
//		...
//		env.KillAgent(t)  // the Workload API goes away
//		env.StartAgent(t) // and comes back with the same identity
//	}
//
// Start skips under -short. The first run builds spire-server and
// spire-agent (SPIRE v1.13.3, from the tools module in
// testdata/tools/spire) into ${XDG_CACHE_HOME:-~/.cache}/slimid/spire-v1.13.3,
// or into $SLIMID_SPIRE_BIN_DIR when set; a cold build takes 5-12 minutes,
// more than go test's default 10-minute timeout, so CI prebuilds them:
//
//	go run ./plugins/spire/spiretest/cmd/spirebuild
//
// Each deployment lives in a short directory under $TMPDIR (unix socket
// paths must fit in 108 bytes): a sqlite datastore, join_token node
// attestation, the unix workload attestor, an in-memory server key manager
// and an on-disk agent key manager (so a restarted agent keeps its
// identity), with SPIRE's 1-second experimental sync intervals so the first
// SVID arrives about a second after the agent starts. Cleanup kills both
// process groups and removes the directory; a failed test shows the tail of
// both logs.
package spiretest
