package main

import (
	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/plugins/jwt"
	"github.com/slimid/slimid/plugins/sharedsecret"
	"github.com/slimid/slimid/plugins/spiffehelper"
	"github.com/slimid/slimid/plugins/spire"
	"github.com/slimid/slimid/sdk"
)

// builtins are the plugin types slimid runs without a separate binary. Each
// also ships as cmd/slimid-plugin-* for external use.
var builtins = broker.Builtins{
	sharedsecret.Name: func() sdk.Plugin { return sharedsecret.New() },
	jwt.Name:          func() sdk.Plugin { return jwt.New() },
	spire.Name:        func() sdk.Plugin { return spire.New() },
	spiffehelper.Name: func() sdk.Plugin { return spiffehelper.New() },
}
