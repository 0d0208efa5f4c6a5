package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const minimal = `
listeners: [{name: web, address: "127.0.0.1:8080", default_target_group: app}]
target_groups: [{name: app, targets: [{address: "127.0.0.1:9000"}]}]
`

// problems loads data and returns the problem messages, failing when it
// loads cleanly.
func problems(t *testing.T, data string) []Problem {
	t.Helper()
	_, err := Load([]byte(data))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want a config error, got %v", err)
	}
	return ce.Problems
}

func has(ps []Problem, path, substr string) bool {
	for _, p := range ps {
		if p.Path == path && strings.Contains(p.Msg, substr) {
			return true
		}
	}
	return false
}

// TestAliasFanOutRefused: an 11-level alias fan-out of a few hundred
// bytes (10^11 nodes expanded) is refused with one problem, at once.
func TestAliasFanOutRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 11; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b.WriteString("listeners: *a11\n")
	ps := problems(t, b.String())
	if len(ps) != 1 || !strings.Contains(ps[0].Msg, "alias fan-out") {
		t.Fatalf("problems: %v", ps)
	}
}

// TestProblemsCapped: a file with thousands of problems lists 100 and
// counts the rest.
func TestProblemsCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString(minimal)
	for i := range 500 {
		fmt.Fprintf(&b, "unknown_%d: 1\n", i)
	}
	ps := problems(t, b.String())
	if len(ps) != maxProblems+1 || !strings.Contains(ps[maxProblems].Msg, "and 400 more problems") {
		t.Fatalf("%d problems, last %v", len(ps), ps[len(ps)-1])
	}
}

// TestKeyFileSizeLimit: key_file: /dev/zero fails at once with an error
// naming the file and the limit, and a normal file still loads.
func TestKeyFileSizeLimit(t *testing.T) {
	_, err := LoadKeyPair("/dev/zero", "/dev/zero")
	if !errors.Is(err, ErrFileTooLarge) || !strings.Contains(err.Error(), "cert_file: /dev/zero") {
		t.Fatalf("LoadKeyPair(/dev/zero): %v", err)
	}
	ps := problems(t, `
listeners: [{name: web, address: "127.0.0.1:8443", protocol: https, tls: {cert_file: /dev/zero, key_file: /dev/zero}, default_target_group: app}]
target_groups: [{name: app, targets: [{address: "127.0.0.1:9000"}]}]
`)
	if !has(ps, "listeners[0].tls", "file too large") {
		t.Errorf("problems: %v", ps)
	}
	small := filepath.Join(t.TempDir(), "f")
	os.WriteFile(small, []byte("abc"), 0o600)
	if b, err := ReadLimited(small, 3); err != nil || string(b) != "abc" {
		t.Errorf("a file at the limit: %q %v", b, err)
	}
}

// TestValidateCatchesWhatServeWouldFailOn: a missing log directory, a
// listener on the admin port, overlapping listeners, a socket path with a
// regular file, a bad socket mode and an out-of-range history bound.
func TestValidateCatchesWhatServeWouldFailOn(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "not-a-socket")
	os.WriteFile(file, nil, 0o600)
	ps := problems(t, fmt.Sprintf(`
access_log: {path: %q}
health_check_log: {path: %q}
admin: {address: "127.0.0.1:9901", socket: %q, socket_mode: "999", request_history_bytes: 10}
listeners:
  - {name: a, address: "0.0.0.0:8080", default_target_group: app}
  - {name: b, address: "127.0.0.1:8080", default_target_group: app}
  - {name: c, address: "localhost:9901", default_target_group: app}
  - {name: d, address: "127.0.0.1:0", default_target_group: app}
  - {name: e, address: "127.0.0.2:0", default_target_group: app}
target_groups: [{name: app, targets: [{address: "127.0.0.1:9000"}]}]
`, filepath.Join(dir, "missing", "access.log"), filepath.Join(dir, "missing", "checks.log"), file))
	for _, want := range [][2]string{
		{"access_log.path", "no such file or directory"},
		{"health_check_log.path", "no such file or directory"},
		{"admin.socket", "not a socket"},
		{"admin.socket_mode", "octal"},
		{"admin.request_history_bytes", "out of range"},
		{"listeners[1].address", "listeners[0]"},
		{"listeners[2].address", "admin port"},
	} {
		if !has(ps, want[0], want[1]) {
			t.Errorf("no problem %s: %s in %v", want[0], want[1], ps)
		}
	}
	if len(ps) != 7 {
		t.Errorf("%d problems, want 7: %v", len(ps), ps)
	}
	// A stale socket at the path is fine.
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := CheckSocketPath(sock); err != nil {
		t.Errorf("an existing socket: %v", err)
	}
}
