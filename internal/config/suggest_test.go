package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadHelps: an unknown key gets its likely meaning, a tab its line,
// an unset variable its name; ${VAR:-default} falls back.
func TestLoadHelps(t *testing.T) {
	t.Setenv("FULCRUM_TEST_PORT", "8081")
	tests := []struct{ name, yaml, want string }{
		{"did you mean", "listeners: [{name: web, address: \":8080\", default_target_group: app, idle_timout: 5s}]\ntarget_groups: [{name: app}]\n",
			`listeners[0].idle_timout (line 1): unknown key (did you mean "idle_timeout"?)`},
		{"tab", "listeners:\n\t- name: web\n", "line 2: a tab in the indentation"},
		{"unset variable", "listeners: [{name: web, address: \"${FULCRUM_TEST_UNSET_VAR}\", default_target_group: app}]\ntarget_groups: [{name: app}]\n",
			"line 1: environment variable FULCRUM_TEST_UNSET_VAR is not set"},
	}
	for _, tc := range tests {
		_, err := Load([]byte(tc.yaml))
		var cerr *Error
		if !errors.As(err, &cerr) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	cfg, err := Load([]byte("listeners: [{name: web, address: \"127.0.0.1:${FULCRUM_TEST_PORT}\", default_target_group: app}]\ntarget_groups: [{name: app, targets: [{address: \"${FULCRUM_TEST_HOST:-127.0.0.1}:9001\"}]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listeners[0].Address != "127.0.0.1:8081" || cfg.TargetGroups[0].Targets[0].Address != "127.0.0.1:9001" {
		t.Errorf("expanded to %q and %q", cfg.Listeners[0].Address, cfg.TargetGroups[0].Targets[0].Address)
	}
}

// TestLoadFileRelativePaths: relative paths resolve against the
// configuration file's directory; "-" and absolute paths stay.
func TestLoadFileRelativePaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fulcrum.yaml")
	os.WriteFile(path, []byte("access_log: {path: \"-\"}\nhealth_check_log: {path: logs/health.log}\nadmin: {address: \"127.0.0.1:0\", socket: /run/fulcrum.sock, token_file: token}\n"+
		"listeners: [{name: web, address: \":8080\", default_target_group: app}]\ntarget_groups: [{name: app, tls: {ca_file: ca.pem}}]\n"), 0o644)
	if _, err := LoadFile(path); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "ca.pem")) {
		t.Errorf("a missing ca_file is named by its resolved path: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("not read by Load"), 0o644)
	os.Mkdir(filepath.Join(dir, "logs"), 0o755) // validate checks that a log's directory exists
	cfg, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AccessLog.Path != "-" || cfg.HealthCheckLog.Path != filepath.Join(dir, "logs/health.log") || cfg.Admin.Socket != "/run/fulcrum.sock" ||
		cfg.Admin.TokenFile != filepath.Join(dir, "token") || cfg.TargetGroups[0].TLS.CAFile != filepath.Join(dir, "ca.pem") {
		t.Errorf("paths: %q %q %q %q %q", cfg.AccessLog.Path, cfg.HealthCheckLog.Path, cfg.Admin.Socket, cfg.Admin.TokenFile, cfg.TargetGroups[0].TLS.CAFile)
	}
}
