package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/slimid/slimid/sdk"
)

// Every error class survives a trip over the wire, so errors.Is works on the
// host exactly as in the plugin.
func TestErrorsSurviveTheWire(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		code     codes.Code
		is       []error
		isNot    []error
		wantText string
	}{
		{"expired", sdk.Reject(sdk.ErrExpired, "token expired 3s ago"), codes.Unauthenticated,
			[]error{sdk.ErrExpired, sdk.ErrRejected}, []error{sdk.ErrUnavailable, sdk.ErrInvalid}, "plugin(p): token expired 3s ago"},
		{"audience", sdk.Reject(sdk.ErrAudience, "for x"), codes.Unauthenticated, []error{sdk.ErrAudience, sdk.ErrRejected}, nil, "plugin(p): for x"},
		{"key mismatch", sdk.Reject(sdk.ErrKeyMismatch, "k"), codes.Unauthenticated, []error{sdk.ErrKeyMismatch, sdk.ErrRejected}, nil, "plugin(p): k"},
		{"replayed", sdk.Reject(sdk.ErrReplayed, "r"), codes.Unauthenticated, []error{sdk.ErrReplayed}, nil, "plugin(p): r"},
		{"wrapped verdict", fmt.Errorf("context: %w", sdk.Reject(sdk.ErrNotYetValid, "nbf")), codes.Unauthenticated, []error{sdk.ErrNotYetValid, sdk.ErrRejected}, nil, "plugin(p): context: nbf"},
		{"outage", sdk.Unavailable("agent gone"), codes.Unavailable, []error{sdk.ErrUnavailable}, []error{sdk.ErrRejected}, "plugin(p): agent gone"},
		{"not configured", sdk.ErrNotConfigured, codes.FailedPrecondition, []error{sdk.ErrNotConfigured, sdk.ErrUnavailable}, []error{sdk.ErrRejected}, "plugin(p): not configured"},
		{"bad config", sdk.InvalidConfig("bad key"), codes.InvalidArgument, []error{sdk.ErrInvalidConfig}, []error{sdk.ErrRejected, sdk.ErrUnavailable}, "plugin(p): bad key"},
		{"unsupported", fmt.Errorf("%w: Verify", sdk.ErrUnsupported), codes.Unimplemented, []error{sdk.ErrUnsupported}, []error{sdk.ErrRejected}, "plugin(p): not supported by this plugin: Verify"},
		{"not found", fmt.Errorf("%w: x", sdk.ErrNotFound), codes.NotFound, []error{sdk.ErrNotFound}, nil, "plugin(p): not found: x"},
		{"a plain bug is an outage", errors.New("nil pointer"), codes.Internal, []error{sdk.ErrUnavailable}, []error{sdk.ErrRejected}, "plugin(p): nil pointer"},
		{"deadline is an outage", context.DeadlineExceeded, codes.DeadlineExceeded, []error{sdk.ErrUnavailable}, []error{sdk.ErrRejected}, "plugin(p): context deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire := sdk.ToStatus(tc.err)
			if got := status.Code(wire); got != tc.code {
				t.Fatalf("code = %v; want %v", got, tc.code)
			}
			back := sdk.FromStatus(wire, "plugin(p)")
			for _, want := range tc.is {
				if !errors.Is(back, want) {
					t.Errorf("errors.Is(%v, %v) = false", back, want)
				}
			}
			for _, not := range tc.isNot {
				if errors.Is(back, not) {
					t.Errorf("errors.Is(%v, %v) = true", back, not)
				}
			}
			if back.Error() != tc.wantText {
				t.Errorf("text = %q; want %q", back.Error(), tc.wantText)
			}
		})
	}
}

// A status from a newer or foreign plugin is never taken for an accept: an
// unknown reason is still a verdict, and codes we do not know are outages.
func TestForeignStatuses(t *testing.T) {
	for code, want := range map[codes.Code]error{
		codes.Unauthenticated:   sdk.ErrInvalid,
		codes.PermissionDenied:  sdk.ErrUntrusted,
		codes.Unknown:           sdk.ErrUnavailable,
		codes.ResourceExhausted: sdk.ErrUnavailable,
		codes.Aborted:           sdk.ErrUnavailable,
		codes.DataLoss:          sdk.ErrUnavailable,
		codes.OK + 100:          sdk.ErrUnavailable,
	} {
		if got := sdk.FromStatus(status.Error(code, "x"), ""); !errors.Is(got, want) {
			t.Errorf("%v → %v; want %v", code, got, want)
		}
	}
	if got := sdk.FromStatus(errors.New("connection refused"), "plugin(p)"); !errors.Is(got, sdk.ErrUnavailable) {
		t.Errorf("a non-status error → %v; want unavailable", got)
	}
	if sdk.ReasonCode(sdk.Unavailable("x")) != "" || sdk.ReasonCode(sdk.Reject(sdk.ErrExpired, "x")) != "EXPIRED" {
		t.Error("ReasonCode")
	}
}
