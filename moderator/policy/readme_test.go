package policy_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/slimid/slimid/moderator/policy"
)

// TestReadmeExamples loads every YAML example of README.md, so that the
// operator documentation cannot drift from the format.
func TestReadmeExamples(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(readme, -1)
	if len(blocks) < 10 {
		t.Fatalf("found %d YAML examples in README.md, want at least 10", len(blocks))
	}
	for _, b := range blocks {
		if _, err := policy.Parse(b[1]); err != nil {
			t.Errorf("example does not load: %v\n%s", err, b[1])
		}
	}
}
