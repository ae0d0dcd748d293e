package main_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDemo runs `slimid demo` as a user would, with no configuration, and
// checks that it passes and that its transcript shows every step.
func TestDemo(t *testing.T) {
	state := t.TempDir()
	out, stderr, code := run(t, []string{"SLIMID_STATE_DIR=" + state, "XDG_RUNTIME_DIR="}, "", "demo")
	if code != 0 {
		t.Fatalf("demo: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^ 1\. broker started with the built-in shared_secret plugin`),
		regexp.MustCompile(`(?m)^ 2\. moderator serving .* on unix:///.*/moderator\.sock$`),
		regexp.MustCompile(`(?m)^ 3\. channel demo/ns/chat created \(MLS suite 0x0002\): epoch 0, its first member the moderator demo/ns/moderator_\w{8}, key sha256:[0-9a-f]{16}$`),
		regexp.MustCompile(`(?m)^ 4\. alice, bob and carol connected`),
		regexp.MustCompile(`(?m)^    alice: token for demo/ns/alice_\w{8} bound to its new key sha256:[0-9a-f]{16}; key package sent$`),
		regexp.MustCompile(`(?m)^    verified, bound, admitted: one commit to epoch 1 and one Welcome; alice joined at leaf 1, bob at leaf 2$`),
		regexp.MustCompile(`(?m)^    commit to epoch 2 acknowledged by alice and bob, then the Welcome to carol, who joined at leaf 3$`),
		regexp.MustCompile(`(?m)^    3     demo/ns/carol   demo/ns/carol_\w{8} +default   basic `),
		regexp.MustCompile(`(?m)^    alice -> "hello from alice": decrypted by bob and carol$`),
		regexp.MustCompile(`(?m)^    bob -> "hi alice, bob here": decrypted by alice and carol$`),
		regexp.MustCompile(`(?m)^      token of "demo/ns/bob_\w{8}" binds key sha256:[0-9a-f]{16} but the leaf carries key sha256:[0-9a-f]{16}; a token is valid only beside the key it binds$`),
		regexp.MustCompile(`(?m)^    mallory got JoinRefused with the same reason; the channel is unchanged \(epoch 2, 4 members\)$`),
		regexp.MustCompile(`(?m)^    committed at epoch 3; authenticator [0-9a-f]{12}, the same for the moderator, alice, bob and carol$`),
		regexp.MustCompile(`(?m)^    removed demo/ns/carol_\w{8} at epoch 4; carol was told: left the demo$`),
		regexp.MustCompile(`(?m)^    carol received nothing; epoch 4 authenticator [0-9a-f]{12}, the same for the moderator, alice and bob$`),
		regexp.MustCompile(`(?m)^demo passed: 12 steps in \S+; demo/ns/chat at epoch 4, epoch authenticator [0-9a-f]{12} shared by the moderator, alice and bob; 1 impostor refused$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("the transcript lacks %s\n%s", want, out)
		}
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Errorf("the demo wrote into the user's state directory: %v", entries)
	}
	if strings.Contains(out, "FAILED") {
		t.Errorf("a step failed:\n%s", out)
	}
}
