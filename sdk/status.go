package sdk

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the ErrorInfo domain that carries verdict reasons.
const ErrorDomain = "slimid.dev"

// ToStatus turns an error into a gRPC status that keeps its class: verdicts
// become UNAUTHENTICATED with their reason, outages UNAVAILABLE.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && !isOurs(err) {
		return err
	}
	var code codes.Code
	switch {
	case errors.Is(err, ErrRejected):
		st := status.New(codes.Unauthenticated, err.Error())
		if withInfo, derr := st.WithDetails(&errdetails.ErrorInfo{Domain: ErrorDomain, Reason: ReasonCode(err)}); derr == nil {
			st = withInfo
		}
		return st.Err()
	case errors.Is(err, ErrNotConfigured):
		code = codes.FailedPrecondition
	case errors.Is(err, ErrUnavailable):
		code = codes.Unavailable
	case errors.Is(err, ErrInvalidConfig):
		code = codes.InvalidArgument
	case errors.Is(err, ErrUnsupported):
		code = codes.Unimplemented
	case errors.Is(err, ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	default:
		code = codes.Internal
	}
	return status.Error(code, err.Error())
}

// isOurs reports whether err carries one of our sentinels, in which case its
// class decides the code even if it also wraps a gRPC status.
func isOurs(err error) bool {
	return errors.Is(err, ErrRejected) || errors.Is(err, ErrUnavailable) ||
		errors.Is(err, ErrInvalidConfig) || errors.Is(err, ErrUnsupported) || errors.Is(err, ErrNotFound)
}

// FromStatus maps a gRPC error back to our sentinels, with prefix (for
// example "plugin(team)") in front of the message. Anything that is not
// explicitly a verdict or a configuration error is an outage: a failing
// provider never turns into an accept.
func FromStatus(err error, prefix string) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return &detailed{msg: prefixed(prefix, err.Error()), kind: ErrUnavailable}
	}
	msg := prefixed(prefix, st.Message())
	switch st.Code() {
	case codes.Unauthenticated, codes.PermissionDenied:
		r := ErrUntrusted
		if st.Code() == codes.Unauthenticated {
			r = ErrInvalid
		}
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == ErrorDomain {
				r = reasonByCode(info.GetReason())
			}
		}
		return &detailed{msg: msg, kind: r}
	case codes.FailedPrecondition:
		return &detailed{msg: msg, kind: ErrNotConfigured}
	case codes.InvalidArgument:
		return &detailed{msg: msg, kind: ErrInvalidConfig}
	case codes.Unimplemented:
		return &detailed{msg: msg, kind: ErrUnsupported}
	case codes.NotFound:
		return &detailed{msg: msg, kind: ErrNotFound}
	default:
		return &detailed{msg: msg, kind: ErrUnavailable}
	}
}

func prefixed(prefix, msg string) string {
	if prefix == "" {
		return msg
	}
	return fmt.Sprintf("%s: %s", prefix, msg)
}
