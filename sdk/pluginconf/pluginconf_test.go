package pluginconf_test

import (
	"strings"
	"testing"
	"time"

	"github.com/slimid/slimid/sdk/pluginconf"
)

type config struct {
	ID       string `yaml:"id"`
	Verifier struct {
		Claims struct {
			Audience []string `yaml:"audience"`
		} `yaml:"claims"`
		Duration time.Duration `yaml:"duration"`
	} `yaml:"verifier"`
	Count int `yaml:"count"`
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"unknown nested key", "id: a\nverifier:\n  claims:\n    foo: 1\n", `unknown key "foo" at verifier.claims (line 4)`},
		{"unknown top key", "bogus: 1", `unknown key "bogus" at the top level (line 1)`},
		{"wrong type", "count: x", `count: cannot use "x" as a whole number (line 1)`},
		{"bad duration", "id: a\nverifier:\n  duration: abc\n", `verifier.duration: time: invalid duration "abc" (line 3)`},
		{"list expected", "verifier:\n  claims:\n    audience: 3\n", "verifier.claims.audience: int was used where sequence is expected (line 3)"},
		{"duplicate key", "id: a\nid: b", `config is not valid YAML: [2:1] mapping key "id" already defined at [1:1]`},
		{"syntax", "id: [", "config is not valid YAML: [1:5] sequence end token ']' not found"},
		{"tag where a list belongs", "verifier:\n  claims:\n    audience: !x\n", "config is not valid YAML: "},
		{"two documents", "id: a\n---\nid: b\n", "config holds more than one YAML document"},
		{"too large", "id: " + strings.Repeat("a", pluginconf.MaxBytes), "config is 1048580 bytes, more than the 1048576 allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c config
			err := pluginconf.Decode([]byte(tc.in), &c)
			// A want ending in ": " is a prefix (the library's own text follows).
			prefixOnly := strings.HasSuffix(tc.want, ": ")
			if err == nil || (err.Error() != tc.want && (!prefixOnly || !strings.HasPrefix(err.Error(), tc.want))) {
				t.Fatalf("Decode = %v; want %q", err, tc.want)
			}
		})
	}
}

func TestDecodeAcceptsYAMLAndJSON(t *testing.T) {
	for _, in := range []string{
		"id: x\nverifier: {duration: 1h, claims: {audience: [slim]}}\n",
		`{"id": "x", "verifier": {"duration": "1h", "claims": {"audience": ["slim"]}}}`,
	} {
		var c config
		if err := pluginconf.Decode([]byte(in), &c); err != nil {
			t.Fatal(err)
		}
		if c.ID != "x" || c.Verifier.Duration != time.Hour || len(c.Verifier.Claims.Audience) != 1 {
			t.Fatalf("decoded %+v", c)
		}
	}
	var c config
	if err := pluginconf.Decode(nil, &c); err != nil || c.ID != "" {
		t.Fatalf("empty document: %v", err)
	}
}

// FuzzDecode: arbitrary configuration text gives a value or a one-line
// error, never a panic.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{"id: a", "verifier: {claims: {audience: [a, b]}}", "{\"id\": 1}", "- a\n- b", "&a [*a]", "id: !!binary aGk="} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var c config
		if err := pluginconf.Decode([]byte(in), &c); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error for %q: %q", in, err)
		}
	})
}
