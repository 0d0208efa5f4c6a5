package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		x, y string
		want bool
	}{
		{a, a, true},
		{a, filepath.Join(dir, ".", "a.yaml"), true},
		{link, a, true},
		{a, b, false},
		{a, "", false},
		{filepath.Join(dir, "missing.yaml"), a, false},
	}
	for _, tc := range tests {
		if got := sameFile(tc.x, tc.y); got != tc.want {
			t.Errorf("sameFile(%q, %q) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
}
