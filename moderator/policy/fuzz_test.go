package policy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slimid/slimid/moderator/policy"
)

// FuzzParse feeds operator input to Parse. A document is refused with a
// one-line error, or it compiles into a policy that decides every input on
// one line and refuses an input it cannot use. The seed corpus is in
// testdata/fuzz/FuzzParse, plus every policy in testdata.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := policy.Parse(data)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "policy: ") || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error is not one line starting with the package: %q", msg)
			}
			return
		}
		for _, in := range []policy.Input{sharedSecretInput(), spiffeInput(), jwtInput()} {
			d := p.Evaluate(in)
			if d.Rule == "" || d.Reason == "" || strings.ContainsAny(d.Reason, "\r\n") {
				t.Fatalf("decision for %s is not one explained line: %#v", in.Identity.Subject, d)
			}
			in.Now = time.Time{}
			if d := p.Evaluate(in); d.Allowed {
				t.Fatalf("admitted without an admission time: %v", d)
			}
		}
	})
}
