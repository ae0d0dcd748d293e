// Command slimid-plugin-spire serves the spire identity plugin as an
// external slimid plugin binary: JWT-SVIDs and X.509-SVIDs from a SPIRE
// agent's Workload API. The broker starts it; run by hand it explains
// itself and exits.
package main

import (
	"github.com/slimid/slimid/plugins/spire"
	"github.com/slimid/slimid/sdk"
)

func main() {
	sdk.Serve(spire.New())
}
