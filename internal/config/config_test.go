package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadValidAppliesDefaults(t *testing.T) {
	data, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(data)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	app := cfg.TargetGroups[0]
	hc := app.HealthCheck
	if !hc.Enabled || hc.Interval.D() != 10*time.Second || hc.Timeout.D() != DefaultHealthTimeout ||
		hc.Path != "/healthz" || hc.HealthyThreshold != 5 || hc.UnhealthyThreshold != 2 || !hc.Matcher.Match(200) || hc.Matcher.Match(201) {
		t.Errorf("health check defaults not kept beside set fields: %+v", hc)
	}
	if got := []int{app.Targets[0].Weight, app.Targets[1].Weight}; !cmp.Equal(got, []int{1, 3}) {
		t.Errorf("weights = %v, want [1 3]", got)
	}
	api := cfg.TargetGroups[1]
	if api.Retries != (Retries{MaxAttempts: 2, BudgetPercent: 20}) {
		t.Errorf("retries = %+v, want max_attempts 2 and the default budget", api.Retries)
	}
	if l := cfg.Listeners[0]; l.Protocol != "http" || l.IdleTimeout.D() != 60*time.Second {
		t.Errorf("listener defaults = %+v", l)
	}
	if cfg.AccessLog.BufferLines != DefaultAccessLogBufferLines || cfg.ShutdownGrace.D() != 30*time.Second {
		t.Errorf("top-level defaults missing: %+v %v", cfg.AccessLog, cfg.ShutdownGrace)
	}
}

func TestLoadReportsEveryProblemWithPathAndLine(t *testing.T) {
	data, err := os.ReadFile("testdata/invalid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Load(data)
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Load error = %v, want *Error", err)
	}
	want := []string{
		`listeners[0].protocol (line 4): "ftp" is not one of http, https`,
		`listeners[0].default_target_group (line 5): "nope" is not a target group`,
		`listeners[0].rules[0].path (line 7): "api/*" must start with / or *`,
		`listeners[0].rules[1].priority (line 8): 10 is used by another rule of this listener`,
		`listeners[0].rules[1].host (line 8): "a b" may hold only letters, digits, '-', '.', '*' and '?'`,
		`target_groups[1].health_check.timeout (line 15): 20s must be shorter than the interval (10s)`,
		`target_groups[1].health_check.matcher (line 16): "600" is not a list of status codes or ranges within 200-499 (e.g. "200,202" or "200-299")`,
		`target_groups[1].targets[0].address (line 18): "127.0.0.1" is not host:port`,
		`target_groups[1].targets[0].weight (line 18): 0 is out of range 1..1000`,
		`target_groups[1].targets[1].address (line 19): "127.0.0.1" is not host:port`,
		`target_groups[1].targets[1].weight (line 19): 2000 is out of range 1..1000`,
	}
	got := strings.Split(cerr.Error(), "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems mismatch (-want +got):\n%s", diff)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:9901": true, "[::1]:1": true, "localhost:1": true,
		"0.0.0.0:9901": false, ":9901": false, "10.0.0.1:80": false, "example.com:1": false} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestLoadStructuralProblems(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{
			name: "bad duration and unknown key",
			yaml: "listeners:\n  - name: a\n    address: :0\n    default_target_group: g\ntarget_groups:\n  - name: g\n    health_check:\n      interval: banana\n    colour: blue\n",
			want: []string{
				`target_groups[0].health_check.interval (line 8): "banana" is not a duration`,
				`target_groups[0].colour (line 9): unknown key`,
			},
		},
		{
			name: "wrong kinds",
			yaml: "listeners: web\ntarget_groups:\n  - name: [a]\n    retries: {max_attempts: many}\n    health_check: {enabled: sometimes, port: 70000}\n",
			want: []string{
				`listeners (line 1): must be a list`,
				`target_groups[0].name (line 3): must be a single value, not a list or mapping`,
				`target_groups[0].retries.max_attempts (line 4): "many" is not an integer`,
				`target_groups[0].health_check.enabled (line 5): "sometimes" is not true or false`,
				`target_groups[0].health_check.port (line 5): "70000" is not "traffic-port" or a port number 1..65535`,
			},
		},
		{
			name: "non-loopback admin without a token",
			yaml: "admin: {address: '0.0.0.0:9901', request_history: 0, request_history_failures: 1000001}\nhealth_check_log: {}\nlisteners:\n  - name: a\n    address: :0\n    default_target_group: g\ntarget_groups:\n  - name: g\n",
			want: []string{
				`admin.token_file (line 1): is required because admin.address "0.0.0.0:9901" is not a loopback address`,
				`admin.request_history (line 1): 0 is out of range 1..1000000`,
				`admin.request_history_failures (line 1): 1000001 is out of range 1..1000000`,
				`health_check_log.path (line 2): is required ("-" for standard output)`,
			},
		},
		{
			name: "no listeners",
			yaml: "target_groups: []\n",
			want: []string{`listeners: at least one listener is required`},
		},
		{
			name: "syntax",
			yaml: "listeners: [\n",
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.yaml))
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Load error = %v, want *Error", err)
			}
			if tc.want == nil {
				if len(cerr.Problems) != 1 || !strings.Contains(cerr.Problems[0].Msg, "line") {
					t.Errorf("syntax error should name its line, got %v", cerr)
				}
				return
			}
			if diff := cmp.Diff(tc.want, strings.Split(cerr.Error(), "\n")); diff != "" {
				t.Errorf("problems mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
