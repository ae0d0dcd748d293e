package tsmls

import "testing"

func TestNodeRecentEnough(t *testing.T) {
	tests := []struct {
		name    string
		version string
		want    bool
	}{
		{name: "minimum", version: "v20.19.0", want: true},
		{name: "later_patch", version: "v20.20.2", want: true},
		{name: "next_major", version: "v22.1.0", want: true},
		{name: "older_minor", version: "v20.18.3", want: false},
		{name: "older_major", version: "v18.20.0", want: false},
		{name: "no_minor", version: "v21", want: false},
		{name: "garbage", version: "node", want: false},
		{name: "empty", version: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nodeRecentEnough(tt.version); got != tt.want {
				t.Fatalf("nodeRecentEnough(%q) = %v, want %v", tt.version, got, tt.want)
			}
		})
	}
}
