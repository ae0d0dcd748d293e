package moderator_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
)

const benchPolicy = "allow:\n  subjects: ['org/ns/m[0-9]+']\n"

// benchModerator is a moderator on the real clock (so the broker's verdict
// cache applies when it is on) with the shared-secret plugin in process.
func benchModerator(b *testing.B, cacheOff bool) (*moderator.Moderator, *env) {
	b.Helper()
	e := &env{t: b, suite: mls.SuiteX25519AES128GCM, broker: startBroker(b, brokerYAML(secretA, cacheOff, ""))}
	mod, err := moderator.Open(context.Background(), moderator.Config{StateDir: b.TempDir(), Verifier: e.broker, Tokens: e.broker})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mod.Close() })
	return mod, e
}

// newGroup creates a group named name with the moderator as its only member.
func newGroup(b *testing.B, mod *moderator.Moderator, e *env, name string) {
	b.Helper()
	signer, err := mls.GenerateSigner(e.suite)
	if err != nil {
		b.Fatal(err)
	}
	cred, err := member.FetchToken(context.Background(), e.broker, "team", signer, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := mod.CreateGroup(context.Background(), moderator.GroupSpec{Name: name, Suite: e.suite, Policy: []byte(benchPolicy), Plugin: "team", Signer: signer, Credential: cred.Credential}); err != nil {
		b.Fatal(err)
	}
}

// keyPackages makes n key packages of distinct subjects.
func keyPackages(b *testing.B, e *env, from, n int) [][]byte {
	b.Helper()
	out := make([][]byte, n)
	for i := range out {
		out[i] = e.newCandidate(fmt.Sprintf("org/ns/m%d", from+i)).kp()
	}
	return out
}

func admitAll(b *testing.B, mod *moderator.Moderator, name string, kps [][]byte) {
	b.Helper()
	res, err := mod.Admit(context.Background(), name, kps...)
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Refused) > 0 {
		b.Fatal(res.Refused[0].Err)
	}
}

// BenchmarkAdmit admits n members in one commit: decoding, validation,
// verification through the broker, policy, commit, Welcome and the durable
// write.
func BenchmarkAdmit(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		for _, cache := range []string{"off", "on"} {
			b.Run(fmt.Sprintf("n=%d/cache=%s", n, cache), func(b *testing.B) {
				mod, e := benchModerator(b, cache == "off")
				kps := keyPackages(b, e, 0, n)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					name := fmt.Sprintf("org/ns/g%d", i)
					newGroup(b, mod, e, name)
					b.StartTimer()
					admitAll(b, mod, name, kps)
				}
			})
		}
	}
}

// BenchmarkMLSAdmit is the MLS work of BenchmarkAdmit alone: decode,
// validate and add the same key packages with moderator/mls's group API.
func BenchmarkMLSAdmit(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			_, e := benchModerator(b, true)
			kps := keyPackages(b, e, 0, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				g := mlsGroup(b, e)
				b.StartTimer()
				mlsAdd(b, g, kps)
			}
		})
	}
}

func mlsGroup(b *testing.B, e *env) *mls.Group {
	b.Helper()
	signer, err := mls.GenerateSigner(e.suite)
	if err != nil {
		b.Fatal(err)
	}
	cred, err := mls.NewBasicCredential([]byte("org/ns/moderator"))
	if err != nil {
		b.Fatal(err)
	}
	g, err := mls.CreateGroup([]byte("org/ns/g"), signer, cred)
	if err != nil {
		b.Fatal(err)
	}
	return g
}

func mlsAdd(b *testing.B, g *mls.Group, kps [][]byte) *mls.Commit {
	b.Helper()
	now := time.Now()
	decoded := make([]*mls.KeyPackage, len(kps))
	for i, raw := range kps {
		kp, err := mls.DecodeKeyPackage(raw)
		if err != nil {
			b.Fatal(err)
		}
		if err := g.ValidateKeyPackage(kp, now); err != nil {
			b.Fatal(err)
		}
		decoded[i] = kp
	}
	c, err := g.AddMembers(decoded...)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkAdmitOne admits one member into a group of size members.
func BenchmarkAdmitOne(b *testing.B) {
	for _, size := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			mod, e := benchModerator(b, true)
			newGroup(b, mod, e, group)
			admitAll(b, mod, group, keyPackages(b, e, 0, size-1))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				kp := keyPackages(b, e, size+i, 1)
				b.StartTimer()
				admitAll(b, mod, group, kp)
				b.StopTimer()
				// Back to size members for the next round.
				if _, err := mod.Remove(context.Background(), group, fmt.Sprintf("org/ns/m%d", size+i), ""); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkMLSAdmitOne is BenchmarkAdmitOne's MLS work alone.
func BenchmarkMLSAdmitOne(b *testing.B) {
	for _, size := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			_, e := benchModerator(b, true)
			g := mlsGroup(b, e)
			mlsAdd(b, g, keyPackages(b, e, 0, size-1))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				kp := keyPackages(b, e, size+i, 1)
				b.StartTimer()
				c := mlsAdd(b, g, kp)
				b.StopTimer()
				if _, err := g.RemoveMembers(c.Added...); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
