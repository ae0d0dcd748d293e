// Command slimid-plugin-sharedsecret serves the shared-secret identity plugin
// to a slimid broker as an external plugin.
package main

import (
	"github.com/slimid/slimid/plugins/sharedsecret"
	"github.com/slimid/slimid/sdk"
)

func main() { sdk.Serve(sharedsecret.New()) }
