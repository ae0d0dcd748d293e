// Command slimid-plugin-spiffehelper serves the spiffe_helper identity plugin
// to a slimid broker as an external plugin. It registers no Prometheus
// gauges: an external plugin has no metrics endpoint, and the broker reads
// the token's issue and expiry times through Status.
package main

import (
	"github.com/slimid/slimid/plugins/spiffehelper"
	"github.com/slimid/slimid/sdk"
)

func main() { sdk.Serve(spiffehelper.New(spiffehelper.WithRegisterer(nil))) }
