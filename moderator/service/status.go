package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/sdk"
)

// errBadRequest marks a request the caller must fix (INVALID_ARGUMENT).
var errBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return kinded(errBadRequest, format, args...)
}

// kindedError is an error with its own text that is also one of the
// sentinels the status mapping knows.
type kindedError struct {
	msg  string
	kind error
}

func (e *kindedError) Error() string { return e.msg }
func (e *kindedError) Unwrap() error { return e.kind }

func kinded(kind error, format string, args ...any) error {
	return &kindedError{msg: fmt.Sprintf(format, args...), kind: kind}
}

// codeOf classifies an error from the moderator or the service: a refused
// credential is UNAUTHENTICATED, a policy refusal PERMISSION_DENIED, a
// member already there ALREADY_EXISTS, an outage UNAVAILABLE.
func codeOf(err error) codes.Code {
	switch {
	case err == nil:
		return codes.OK
	case errors.Is(err, moderator.ErrAlreadyMember), errors.Is(err, moderator.ErrGroupExists):
		return codes.AlreadyExists
	case errors.Is(err, sdk.ErrPolicy):
		return codes.PermissionDenied
	case errors.Is(err, sdk.ErrRejected):
		return codes.Unauthenticated
	case errors.Is(err, errBadRequest), errors.Is(err, sdk.ErrInvalidConfig):
		return codes.InvalidArgument
	case errors.Is(err, sdk.ErrNotFound):
		return codes.NotFound
	case errors.Is(err, sdk.ErrUnavailable), errors.Is(err, moderator.ErrClosed):
		return codes.Unavailable
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	return codes.Internal
}

// toStatus turns an error into a gRPC status whose message is the one-line
// reason; verdicts carry an ErrorInfo naming them, as the broker's do.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codeOf(err)
	st := status.New(code, oneLine(err))
	if rc := sdk.ReasonCode(err); rc != "" && (code == codes.Unauthenticated || code == codes.PermissionDenied) {
		if withInfo, derr := st.WithDetails(&errdetails.ErrorInfo{Domain: sdk.ErrorDomain, Reason: rc}); derr == nil {
			st = withInfo
		}
	}
	return st.Err()
}

// oneLine is err's message on one line, without the packages' prefixes
// that say nothing to the person reading it.
func oneLine(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	return strings.TrimPrefix(msg, "moderator: ")
}
