package moderator_test

import (
	"os"
	"testing"
)

// children are the modes this test binary runs in as a child process,
// by the environment variable that selects each (its value is the state
// directory).
var children = map[string]func(dir string) int{childEnv: runChild}

func TestMain(m *testing.M) {
	for env, run := range children {
		if dir := os.Getenv(env); dir != "" {
			os.Exit(run(dir))
		}
	}
	os.Exit(m.Run())
}
