package mls_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/thomas-vilte/mls-go/ciphersuite"
	"github.com/thomas-vilte/mls-go/credentials"
	"github.com/thomas-vilte/mls-go/framing"
	"github.com/thomas-vilte/mls-go/group"
	"github.com/thomas-vilte/mls-go/keypackages"

	"github.com/slimid/slimid/moderator/mls"
)

// The benchmarks compare this package ("boundary") with mls-go's group API
// called directly ("direct") on the same operations and the same key
// packages: both sides build the commit, apply it, and encode the commit and
// the Welcome (with the ratchet tree) as MLSMessages. Group sizes of 1000
// are skipped under -short. Besides wall time they report cpu-ns/op, the
// process CPU time spent in the measured calls, which other load on a shared
// machine disturbs less.

const benchSuite = mls.SuiteX25519AES128GCM

// cpuMeter sums the process CPU time (user and system) spent in measure.
type cpuMeter struct{ total time.Duration }

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (m *cpuMeter) measure(b *testing.B, op func() error) {
	start := processCPU(b)
	err := op()
	m.total += processCPU(b) - start
	if err != nil {
		b.Fatal(err)
	}
}

func (m *cpuMeter) report(b *testing.B) {
	b.ReportMetric(float64(m.total.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func benchSizes(b *testing.B, sizes ...int) []int {
	if !testing.Short() {
		return sizes
	}
	var out []int
	for _, n := range sizes {
		if n < 1000 {
			out = append(out, n)
		}
	}
	return out
}

// benchKeyPackages returns n key packages in both forms.
func benchKeyPackages(b *testing.B, n int) ([]*mls.KeyPackageBundle, []*mls.KeyPackage, []*keypackages.KeyPackage) {
	b.Helper()
	bundles := make([]*mls.KeyPackageBundle, n)
	ours := make([]*mls.KeyPackage, n)
	theirs := make([]*keypackages.KeyPackage, n)
	for i := range n {
		bundles[i] = newBundle(b, benchSuite, fmt.Sprintf("member-%d", i))
		ours[i] = bundles[i].KeyPackage()
		kp, err := keypackages.UnmarshalKeyPackage(ours[i].BareBytes())
		if err != nil {
			b.Fatal(err)
		}
		theirs[i] = kp
	}
	return bundles, ours, theirs
}

// directGroup is a group driven through mls-go's group API.
type directGroup struct {
	g   *group.Group
	sig *ciphersuite.SignaturePrivateKey
}

func newDirectGroup(b *testing.B) *directGroup {
	b.Helper()
	cs := ciphersuite.CipherSuite(benchSuite)
	cwk, sig, err := credentials.GenerateCredentialWithKeyForCS([]byte("moderator"), cs)
	if err != nil {
		b.Fatal(err)
	}
	kp, priv, err := keypackages.Generate(cwk, cs)
	if err != nil {
		b.Fatal(err)
	}
	g, err := group.NewGroup(group.NewGroupID([]byte("org/ns/channel")), cs, kp, priv)
	if err != nil {
		b.Fatal(err)
	}
	return &directGroup{g: g, sig: sig}
}

// add is the direct equivalent of Group.AddMembers.
func (d *directGroup) add(kps []*keypackages.KeyPackage) (commit, welcome []byte, err error) {
	for _, kp := range kps {
		if _, err := d.g.AddMember(kp); err != nil {
			return nil, nil, err
		}
	}
	staged, err := d.g.Commit(d.sig, d.sig.PublicKey(), nil)
	if err != nil {
		return nil, nil, err
	}
	ac := staged.AuthenticatedContent()
	commit = framing.NewMLSMessagePublic(&framing.PublicMessage{Content: ac.Content, Auth: ac.Auth, MembershipTag: staged.MembershipTag()}).Marshal()
	js := staged.JoinerSecret()
	if err := d.g.MergeCommit(staged); err != nil {
		return nil, nil, err
	}
	w, err := d.g.CreateWelcomeWithOpts(kps, d.sig,
		group.WithJoinerSecret(js), group.WithPSKIDs(staged.PskIDs()), group.WithPSKSecret(staged.RawPskSecret()),
		group.WithStagedCommit(staged), group.WithGroupInfoOptions(group.WithRatchetTree(true), group.WithExternalPub(false)))
	if err != nil {
		return nil, nil, err
	}
	return commit, (&framing.MLSMessage{Welcome: w.Marshal()}).Marshal(), nil
}

func BenchmarkAddInOneCommit(b *testing.B) {
	for _, n := range benchSizes(b, 1, 10, 100, 1000) {
		_, ours, theirs := benchKeyPackages(b, n)
		b.Run(fmt.Sprintf("n=%d/boundary", n), func(b *testing.B) {
			var cpu cpuMeter
			for b.Loop() {
				b.StopTimer()
				mod := newModerator(b, benchSuite)
				b.StartTimer()
				cpu.measure(b, func() error { _, err := mod.AddMembers(ours...); return err })
			}
			cpu.report(b)
		})
		b.Run(fmt.Sprintf("n=%d/direct", n), func(b *testing.B) {
			var cpu cpuMeter
			for b.Loop() {
				b.StopTimer()
				d := newDirectGroup(b)
				b.StartTimer()
				cpu.measure(b, func() error { _, _, err := d.add(theirs); return err })
			}
			cpu.report(b)
		})
	}
}

func BenchmarkAddOneToGroup(b *testing.B) {
	for _, n := range benchSizes(b, 10, 100, 1000) {
		_, ours, theirs := benchKeyPackages(b, n)
		mod := newModerator(b, benchSuite)
		if _, err := mod.AddMembers(ours[:n-1]...); err != nil {
			b.Fatal(err)
		}
		ourState, err := mod.State()
		if err != nil {
			b.Fatal(err)
		}
		d := newDirectGroup(b)
		if _, _, err := d.add(theirs[:n-1]); err != nil {
			b.Fatal(err)
		}
		theirState, err := d.g.MarshalState()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("size=%d/boundary", n), func(b *testing.B) {
			var cpu cpuMeter
			for b.Loop() {
				b.StopTimer()
				g, err := mls.RestoreGroup(ourState)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				cpu.measure(b, func() error { _, err := g.AddMembers(ours[n-1]); return err })
			}
			cpu.report(b)
		})
		b.Run(fmt.Sprintf("size=%d/direct", n), func(b *testing.B) {
			var cpu cpuMeter
			for b.Loop() {
				b.StopTimer()
				g, err := group.UnmarshalGroupState(theirState)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				cpu.measure(b, func() error { _, _, err := (&directGroup{g: g, sig: d.sig}).add(theirs[n-1:]); return err })
			}
			cpu.report(b)
		})
	}
}

func BenchmarkJoin(b *testing.B) {
	for _, n := range benchSizes(b, 10, 100, 1000) {
		// Two joiners share the Welcome into a group of n: one through this
		// package, one through mls-go with a key package mls-go generated.
		bundles, ours, _ := benchKeyPackages(b, n-1)
		cs := ciphersuite.CipherSuite(benchSuite)
		cwk, _, err := credentials.GenerateCredentialWithKeyForCS([]byte("direct joiner"), cs)
		if err != nil {
			b.Fatal(err)
		}
		theirKP, theirPriv, err := keypackages.Generate(cwk, cs)
		if err != nil {
			b.Fatal(err)
		}
		theirs, err := mls.DecodeKeyPackage(theirKP.Marshal())
		if err != nil {
			b.Fatal(err)
		}
		// The joiners come in a second commit, which carries an UpdatePath
		// as every commit in a group of more than one does.
		mod := newModerator(b, benchSuite)
		if _, err := mod.AddMembers(ours[:n-3]...); err != nil {
			b.Fatal(err)
		}
		c, err := mod.AddMembers(ours[n-3], theirs)
		if err != nil {
			b.Fatal(err)
		}
		joiner := bundles[n-3]
		b.Run(fmt.Sprintf("size=%d/boundary", n), func(b *testing.B) {
			var cpu cpuMeter
			for b.Loop() {
				cpu.measure(b, func() error { _, err := mls.JoinGroup(c.Welcome, joiner); return err })
			}
			cpu.report(b)
		})
		b.Run(fmt.Sprintf("size=%d/direct", n), func(b *testing.B) {
			var cpu cpuMeter
			for b.Loop() {
				cpu.measure(b, func() error {
					m, err := framing.UnmarshalMLSMessage(c.Welcome)
					if err != nil {
						return err
					}
					w, err := group.UnmarshalWelcome(m.Welcome)
					if err != nil {
						return err
					}
					_, err = group.JoinFromWelcome(w, theirKP, theirPriv, nil)
					return err
				})
			}
			cpu.report(b)
		})
	}
}
