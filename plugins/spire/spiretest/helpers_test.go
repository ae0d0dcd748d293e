package spiretest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/slimid/slimid/plugins/spire/spiretest"
)

func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), d)
}

// fetchID returns the SPIFFE ID of the workload's default X.509-SVID.
func fetchID(t *testing.T, env *spiretest.Env) string {
	t.Helper()
	ctx, cancel := contextWithTimeout(t, 10*time.Second)
	defer cancel()
	svid, err := workloadapi.FetchX509SVID(ctx, workloadapi.WithAddr(env.WorkloadAPIAddr))
	if err != nil {
		t.Fatalf("FetchX509SVID: %v", err)
	}
	return svid.ID.String()
}

// waitSVIDs watches the X.509 context until the agent serves exactly want
// (sorted SPIFFE IDs); entries reach the agent at its next sync.
func waitSVIDs(t *testing.T, env *spiretest.Env, want []string) {
	t.Helper()
	ctx, cancel := contextWithTimeout(t, 30*time.Second)
	defer cancel()
	var last []string
	for ctx.Err() == nil {
		svids, err := workloadapi.FetchX509SVIDs(ctx, workloadapi.WithAddr(env.WorkloadAPIAddr))
		if err == nil {
			last = last[:0]
			for _, s := range svids {
				last = append(last, s.ID.String())
			}
			slices.Sort(last)
			if slices.Equal(last, want) {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the agent serves %v; want %v", last, want)
}
