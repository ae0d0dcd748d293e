// Command slimid-benchreport turns `go test -bench` output into one table
// of slimid's headline figures, each with its target, so runs can be
// compared line by line.
//
//	go test -run '^$' -bench . -benchmem -benchtime 2s ./... | tee bench.out
//	slimid-benchreport bench.out        # or: ... | slimid-benchreport
//	slimid-benchreport rss              # the broker's resident memory
//
// The table has one row per figure: FIGURE, VALUE, TARGET and RESULT (pass,
// FAIL, "not measured" when the output lacks the benchmark, "benchmark
// failed" when it failed or was skipped). The figures:
//
//   - verify cost by plugin and path: called directly, in process with the
//     plugin's published keys, over the built-in in-memory pipe, as an
//     external binary, from the verdict cache, and the bare go-plugin echo
//     round trip as the floor;
//   - shared_secret external / (echo + direct), target ≤ 1.2; a cache hit,
//     target < 2 µs; external with parallel callers, target ≥ 15,000
//     verifications/s;
//   - in-process verification with published keys / jwx called directly,
//     for ES256, EdDSA and RS256, target ≤ 1.2 (from the paired benchmark
//     when present);
//   - rotation latency p50 / p99 from a spiffe-helper file write to
//     WatchToken, per write mode, target p99 < 100 ms;
//   - the moderator admitting n members in one commit / the MLS commit
//     alone, target ≤ 1.3, and ts-mls adding them / the moderator, target
//     ≥ 10×, for the largest n measured both ways. Any BenchmarkAdmit... in
//     a moderator package counts; the group size is read from a part such
//     as "n=100", the variant from words in the name ("mls", "direct",
//     "alone" for the MLS commit alone; "ts-mls" for ts-mls). The MLS
//     layer's BenchmarkAddInOneCommit/n=N/boundary and ts-mls's
//     BenchmarkAddMembers/n=N stand in for a missing variant.
//
// Several packages may be concatenated in one input; a benchmark run several
// times (-count) counts by its median. Flag -check makes a missed target
// exit with status 1.
//
// The rss mode builds slimid and its external plugin binaries (go build,
// run from inside the module), starts `slimid broker` with shared_secret
// built in and jwt and spiffe_helper as external plugins (fixtures made in
// a temporary directory), waits for /readyz, and sums the resident memory
// (VmRSS) of the broker and its plugin processes: once idle, once after a
// burst of verifications through the broker API.
package main
