package config

import "testing"

func TestDialAddress(t *testing.T) {
	tests := []struct{ listen, want string }{
		{"0.0.0.0:8080", "127.0.0.1:8080"},
		{":8080", "127.0.0.1:8080"},
		{"[::]:9090", "127.0.0.1:9090"},
		{"127.0.0.1:9901", "127.0.0.1:9901"},
		{"[::1]:80", "[::1]:80"},
		{"lb.example:443", "lb.example:443"},
		{"127.0.0.1:0", ""},
		{"no-port", ""},
	}
	for _, tc := range tests {
		if got := DialAddress(tc.listen); got != tc.want {
			t.Errorf("DialAddress(%q) = %q, want %q", tc.listen, got, tc.want)
		}
	}
}
