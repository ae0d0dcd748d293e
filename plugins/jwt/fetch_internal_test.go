package jwt

import (
	"testing"
	"time"
)

func TestMaxAge(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", time.Hour},
		{"public, max-age=600", 10 * time.Minute},
		{"max-age=\"30\", must-revalidate", 30 * time.Second},
		{"MAX-AGE=5", 5 * time.Second},
		{"max-age=9999999", 24 * time.Hour},
		{"max-age=-1", time.Hour},
		{"max-age=soon", time.Hour},
		{"no-store", 0},
		{"private, no-cache", 0},
	}
	for _, tt := range tests {
		if got := maxAge(tt.header); got != tt.want {
			t.Errorf("maxAge(%q) = %s; want %s", tt.header, got, tt.want)
		}
	}
}

func TestPeekIssuer(t *testing.T) {
	tests := []struct {
		name, token, want string
	}{
		{"issuer", "e30.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbSJ9.c2ln", "https://idp.example.com"},
		{"no issuer", "e30.e30.c2ln", ""},
		{"issuer not a string", "e30.eyJpc3MiOjd9.c2ln", ""},
		{"two segments", "e30.e30", ""},
		{"payload not base64url", "e30.!!.c2ln", ""},
	}
	for _, tt := range tests {
		if got := peekIssuer(tt.token); got != tt.want {
			t.Errorf("%s: peekIssuer = %q; want %q", tt.name, got, tt.want)
		}
	}
}
