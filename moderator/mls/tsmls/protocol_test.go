package tsmls

import (
	"bufio"
	"os/exec"
	"strings"
	"testing"
)

// TestProtocolSurvivesMalformedLines writes raw lines that the Go client
// never sends and checks each answer, then that the process still works.
func TestProtocolSurvivesMalformedLines(t *testing.T) {
	if testing.Short() {
		t.Skip("ts-mls peer not started under -short: run without -short to interoperate with ts-mls")
	}
	if err := checkNode(t.Context()); err != nil {
		t.Skip(err.Error())
	}
	dir := nodeDir()
	if err := install(t.Context(), dir); err != nil {
		t.Fatal(err)
	}

	exchanges := []struct {
		name, request, answer string
	}{
		{"not_json", `not json`, `{"id":null,"error":"request is not JSON: Unexpected token 'o', \"not json\" is not valid JSON"}`},
		{"array", `[1]`, `{"id":null,"error":"request must be a JSON object with id, cmd and params"}`},
		{"no_id", `{"cmd":"version"}`, `{"id":null,"error":"request id must be a number or a string"}`},
		{"unknown_cmd", `{"id":1,"cmd":"nope"}`, `{"id":1,"error":"unknown cmd \"nope\": use one of version, new_signer, key_package, create_group, join, add, remove, process, send, epoch, epoch_authenticator, export_secret, members, validations, reset_validations, refuse, bench"}`},
		{"prototype_cmd", `{"id":2,"cmd":"constructor"}`, `{"id":2,"error":"unknown cmd \"constructor\": use one of version, new_signer, key_package, create_group, join, add, remove, process, send, epoch, epoch_authenticator, export_secret, members, validations, reset_validations, refuse, bench"}`},
		{"params_array", `{"id":3,"cmd":"epoch","params":[]}`, `{"id":3,"error":"params must be a JSON object"}`},
		{"suite_as_string", `{"id":4,"cmd":"new_signer","params":{"suite":"1"}}`, `{"id":4,"error":"suite must be an integer in [0, 65535], got \"1\""}`},
		{"unknown_group", `{"id":5,"cmd":"send","params":{"group":"g9","plaintext":""}}`, `{"id":5,"error":"group g9 is unknown: create_group or join first"}`},
		{"url_safe_base64", `{"id":6,"cmd":"create_group","params":{"group_id":"-_8=","signer_id":"s1","identity":"YQ=="}}`, `{"id":6,"error":"group_id is not standard base64 with padding"}`},
		{"unpadded_base64", `{"id":7,"cmd":"refuse","params":{"identities":["YQ"]}}`, `{"id":7,"error":"identities[0] is not standard base64 with padding"}`},
		{"string_id", `{"id":"x","cmd":"epoch"}`, `{"id":"x","error":"group is required: pass a string"}`},
		{"still_alive", `{"id":8,"cmd":"reset_validations"}`, `{"id":8,"result":{}}`},
	}
	cmd := exec.Command("node", "peer.mjs")
	cmd.Dir = dir
	var input strings.Builder
	for _, e := range exchanges {
		input.WriteString(e.request + "\n")
	}
	cmd.Stdin = strings.NewReader(input.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("peer exited with %v", err)
	}
	lines := bufio.NewScanner(strings.NewReader(string(out)))
	for _, e := range exchanges {
		if !lines.Scan() {
			t.Fatalf("%s: no answer", e.name)
		}
		if got := lines.Text(); got != e.answer {
			t.Errorf("%s:\n got %s\nwant %s", e.name, got, e.answer)
		}
	}
	if lines.Scan() {
		t.Fatalf("extra answer %s", lines.Text())
	}
}
