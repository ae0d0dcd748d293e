package tsmls

import (
	"context"
	"time"
)

// BenchResult is what ts-mls took, measured inside node with performance.now().
type BenchResult struct {
	Suite Suite
	N     int
	// CreateGroup is createGroup for the creator alone.
	CreateGroup time.Duration
	// Add is one commit adding all N members, Welcome included.
	Add time.Duration
	// Join is one of the new members processing that Welcome.
	Join         time.Duration
	CommitBytes  int
	WelcomeBytes int
}

// Bench has ts-mls create a group and add n members in one commit, key
// packages made beforehand, then join one of them from the Welcome. Its
// call bound grows with n, since ts-mls takes seconds for a few hundred.
func (p *Peer) Bench(ctx context.Context, suite Suite, n int) (BenchResult, error) {
	var out struct {
		CreateGroupMS float64 `json:"create_group_ms"`
		AddMS         float64 `json:"add_ms"`
		JoinMS        float64 `json:"join_ms"`
		CommitBytes   int     `json:"commit_bytes"`
		WelcomeBytes  int     `json:"welcome_bytes"`
	}
	timeout := callTimeout + time.Duration(n)*100*time.Millisecond
	err := p.call(ctx, timeout, "bench", map[string]any{"suite": suite, "n": n}, &out)
	return BenchResult{
		Suite:        suite,
		N:            n,
		CreateGroup:  millis(out.CreateGroupMS),
		Add:          millis(out.AddMS),
		Join:         millis(out.JoinMS),
		CommitBytes:  out.CommitBytes,
		WelcomeBytes: out.WelcomeBytes,
	}, err
}

func millis(ms float64) time.Duration {
	return time.Duration(ms * float64(time.Millisecond))
}
