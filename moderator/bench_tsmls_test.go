package moderator_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/mls/tsmls"
	"github.com/slimid/slimid/sdk"
)

// BenchmarkAdmitVsTsMLS compares admitting n members in one commit, suite
// 0x0001, in our moderator and in ts-mls:
//
//   - tsmls: ts-mls's createCommit adding n members with the ratchet tree in
//     the Welcome, timed inside node with performance.now() (tsmls.Peer.Bench).
//     ns/op is that in-node time, so it compares with the moderator's; B/op
//     and allocs/op count only the Go side of the exchange with node.
//   - moderator: Admit end to end on the same kind of key packages, made by
//     ts-mls with shared-secret tokens bound to their keys: decode, validate,
//     verify every token through the broker (verdict cache off), policy,
//     commit, Welcome and the durable write (two fdatasyncs), with the state
//     directory on disk. speedup-vs-tsmls is the tsmls ns/op of the same n
//     over this one.
//   - moderator-tmpfs: the same with the state directory on tmpfs
//     (/dev/shm), which takes the fixed cost of the fdatasyncs away.
//
// Each iteration admits into a fresh group (its creation untimed). ts-mls
// runs first for each n so that the moderator's variants can report their
// speedup. It needs the ts-mls peer, so it is skipped under -short.
func BenchmarkAdmitVsTsMLS(b *testing.B) {
	peer := tsmls.Start(b)
	const suite = tsmls.SuiteX25519AES128GCM
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			var tsNsPerOp float64
			b.Run("tsmls", func(b *testing.B) {
				tsNsPerOp = benchTSMLSAdd(b, peer, suite, n)
			})
			kps := tsKeyPackages(b, peer, suite, n)
			b.Run("moderator", func(b *testing.B) {
				dir := b.TempDir()
				if fs := fsType(dir); fs == "tmpfs" || fs == "ramfs" {
					b.Skipf("%s is on %s: set TMPDIR to a disk-backed directory to measure the durable write on disk", dir, fs)
				}
				benchModeratorAdmit(b, dir, kps, tsNsPerOp)
			})
			b.Run("moderator-tmpfs", func(b *testing.B) {
				benchModeratorAdmit(b, shmDir(b), kps, tsNsPerOp)
			})
		})
	}
}

// benchTSMLSAdd runs ts-mls's own benchmark b.N times and reports its
// in-node add time as ns/op, which it returns.
func benchTSMLSAdd(b *testing.B, peer *tsmls.Peer, suite tsmls.Suite, n int) float64 {
	var add, join time.Duration
	for range b.N {
		res, err := peer.Bench(b.Context(), suite, n)
		if err != nil {
			b.Fatal(err)
		}
		add += res.Add
		join += res.Join
	}
	nsPerOp := float64(add.Nanoseconds()) / float64(b.N)
	b.ReportMetric(nsPerOp, "ns/op")
	b.ReportMetric(nsPerOp/1e6, "tsmls-add-ms/op")
	b.ReportMetric(float64(join.Nanoseconds())/1e6/float64(b.N), "tsmls-join-ms/op")
	return nsPerOp
}

// benchModeratorAdmit has a moderator whose state lives in dir admit kps
// into a fresh group b.N times.
func benchModeratorAdmit(b *testing.B, dir string, kps [][]byte, tsNsPerOp float64) {
	e := &env{t: b, suite: mls.SuiteX25519AES128GCM, broker: startBroker(b, brokerYAML(secretA, true, ""))}
	mod, err := moderator.Open(b.Context(), moderator.Config{StateDir: dir, Verifier: e.broker, Tokens: e.broker})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mod.Close() })
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		name := fmt.Sprintf("org/ns/g%d", i)
		newGroup(b, mod, e, name)
		b.StartTimer()
		res, err := mod.Admit(context.Background(), name, kps...)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Refused) > 0 {
			b.Fatal(res.Refused[0].Err)
		}
	}
	b.StopTimer()
	if tsNsPerOp > 0 {
		b.ReportMetric(tsNsPerOp/(float64(b.Elapsed().Nanoseconds())/float64(b.N)), "speedup-vs-tsmls")
	}
}

// tsKeyPackages has ts-mls make n key packages for subjects the bench
// policy admits, each carrying a shared-secret token bound to its key.
func tsKeyPackages(b *testing.B, peer *tsmls.Peer, suite tsmls.Suite, n int) [][]byte {
	b.Helper()
	ctx := b.Context()
	out := make([][]byte, n)
	for i := range out {
		signer, err := peer.NewSigner(ctx, suite)
		if err != nil {
			b.Fatal(err)
		}
		subject := fmt.Sprintf("org/ns/m%d", i)
		tok, err := newMinter(b, subject, secretA).FetchToken(ctx, "", sdk.TokenRequest{PublicKey: signer.SignaturePublicKey})
		if err != nil {
			b.Fatal(err)
		}
		kp, err := peer.NewKeyPackage(ctx, signer, []byte(tok.Value), nil)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = kp.Message
	}
	return out
}

// shmDir is a fresh directory on /dev/shm, removed when b ends; it skips b
// where /dev/shm is not a tmpfs.
func shmDir(b *testing.B) string {
	b.Helper()
	const shm = "/dev/shm"
	if fs := fsType(shm); fs != "tmpfs" {
		b.Skipf("%s is not a tmpfs here (file system %q): the tmpfs variant needs one", shm, fs)
	}
	dir, err := os.MkdirTemp(shm, "slimid-bench-")
	if err != nil {
		b.Skipf("no directory on %s: %v", shm, err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// fsType names the file system that holds path, from /proc/self/mounts
// (the longest mount point that contains it); "" where that is unknown.
func fsType(path string) string {
	path, err := filepath.EvalSymlinks(path)
	if err != nil {
		return ""
	}
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return ""
	}
	defer f.Close()
	best, fs := "", ""
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		if len(fields) < 3 {
			continue
		}
		mount := fields[1]
		within := path == mount || strings.HasPrefix(path, strings.TrimSuffix(mount, "/")+"/")
		if within && len(mount) >= len(best) {
			best, fs = mount, fields[2]
		}
	}
	return fs
}
