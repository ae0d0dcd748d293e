// Command slimid-plugin-jwt serves the jwt identity plugin as an external
// binary for the slimid broker. It is started by the broker, not by hand.
package main

import (
	"github.com/slimid/slimid/plugins/jwt"
	"github.com/slimid/slimid/sdk"
)

func main() {
	sdk.Serve(jwt.New())
}
