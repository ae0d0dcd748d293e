// Package sdktest is the conformance kit for identity plugins. A plugin author
// runs it from a test in the plugin's package:
//
//	func TestConformance(t *testing.T) {
//		sdktest.Run(t, sdktest.Suite{
//			NewPlugin: func() sdk.Plugin { return myplugin.New() },
//			Binary:    "example.com/myplugin/cmd/myplugin",
//			Config:    []byte("secret_file: testdata/secret\n"),
//			InvalidConfigs: []sdktest.InvalidConfig{
//				{Name: "unknown key", Config: []byte("bogus: 1"), Want: `unknown key "bogus"`},
//			},
//		})
//	}
//
// Run drives the plugin twice over the real wire: in process over an
// in-memory gRPC pipe (the path built-in plugins take in the broker) and, when
// Binary is set, as an external binary that the kit builds with `go build` and
// starts through go-plugin with mutual TLS and a pinned checksum (the path
// external plugins take). Each check is a subtest named after the contract
// rule it enforces.
package sdktest
