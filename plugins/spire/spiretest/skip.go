package spiretest

import "testing"

// skipShort skips tests that need the real SPIRE under -short.
func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real SPIRE server and agent; run without -short: go test ./plugins/spire/... (the first run builds SPIRE " + Version + ", about 5-12 min)")
	}
}
