package sharedsecret

import (
	"errors"
	"testing"

	"github.com/slimid/slimid/sdk"
)

func TestReplayCacheFreesExpiredEntries(t *testing.T) {
	c := newReplayCache(2, 60)
	for i, tc := range []struct {
		nonce   string
		ts, now int64
		want    error
	}{
		{"a", 100, 100, nil},
		{"a", 100, 101, sdk.ErrReplayed},
		{"a", 101, 101, nil}, // same nonce, other timestamp: another token
		{"b", 102, 102, sdk.ErrUnavailable},
		{"b", 102, 161, nil}, // "a"@100 expired at 160: room again
		{"c", 150, 163, nil}, // "a"@101 and "b"@102 expired too
	} {
		err := c.record(tc.nonce, tc.ts, tc.now)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Fatalf("step %d: record(%s, %d, now=%d) = %v; want %v", i, tc.nonce, tc.ts, tc.now, err, tc.want)
		}
	}
}
