//go:build !linux

package sdk

// pidWatch is not available outside Linux: exits are found by polling.
type pidWatch struct{ exited chan struct{} }

func watchPid(int) (*pidWatch, bool) { return nil, false }
func (w *pidWatch) alive() bool      { return false }
