package spire_test

import (
	"context"
	"fmt"

	"github.com/slimid/slimid/plugins/spire"
)

func ExamplePlugin_ValidateConfig() {
	p := spire.New()
	notes, err := p.ValidateConfig(context.Background(), []byte(`
socket_path: unix:/run/spire/agent-sockets/api.sock
target_spiffe_id: spiffe://example.org/agent-a
`))
	fmt.Println(notes, err)

	_, err = p.ValidateConfig(context.Background(), []byte(`{socket_path: "unix:///run/agent.sock", jwt_audiences: []}`))
	fmt.Println(err)
	// Output:
	// [jwt_audiences defaults to [slim]] <nil>
	// jwt_audiences is empty: list at least one audience (SLIM uses "slim"), since an empty list would accept tokens for any audience
}
