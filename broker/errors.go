package broker

import "github.com/slimid/slimid/sdk"

// ErrUnknownPlugin: no plugin entry has that name. It is also
// sdk.ErrNotFound, which survives the broker API.
var ErrUnknownPlugin = &classed{text: "unknown plugin", class: sdk.ErrNotFound}

// ErrNoPlugin: the call needs a plugin name and the configuration offers no
// single obvious one. It is also sdk.ErrInvalidConfig.
var ErrNoPlugin = &classed{text: "no plugin named", class: sdk.ErrInvalidConfig}

// classed is a sentinel that also belongs to a broader sdk class.
type classed struct {
	text  string
	class error
}

func (e *classed) Error() string        { return e.text }
func (e *classed) Is(target error) bool { return target == e.class }
