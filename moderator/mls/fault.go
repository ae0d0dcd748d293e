package mls

import "fmt"

// faultError turns a panic raised inside mls-go while it handled untrusted
// bytes into a refusal, so hostile input never crashes the caller.
func faultError(kind error, r any) error {
	return fmt.Errorf("%w: malformed input (decoder fault: %v)", kind, r)
}
