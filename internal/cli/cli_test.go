package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("listeners: [{name: web, address: \":8080\", default_target_group: app}]\ntarget_groups: [{name: app}]\n"), 0o644)
	os.WriteFile(bad, []byte("listeners:\n  - name: web\n    address: \":8080\"\n    default_target_group: app\ntarget_groups:\n  - name: app\n    health_check:\n      interval: banana\n    colour: blue\n"), 0o644)

	code, out, _ := run(t, "validate", "-c", good)
	if code != 0 || out != good+": ok\n" {
		t.Errorf("good config: code %d, stdout %q", code, out)
	}
	code, out, errOut := run(t, "validate", "-c", bad)
	want := []string{
		"2 configuration problem(s):",
		`target_groups[0].health_check.interval (line 8): "banana" is not a duration`,
		`target_groups[0].colour (line 9): unknown key`,
	}
	if code != 1 || out != "" {
		t.Errorf("bad config: code %d, stdout %q", code, out)
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(errOut), "\n")); diff != "" {
		t.Errorf("stderr mismatch (-want +got):\n%s", diff)
	}
	if code, _, errOut := run(t, "validate", "-c", filepath.Join(dir, "missing.yaml")); code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: code %d, stderr %q", code, errOut)
	}
}

func TestVersionAndUsage(t *testing.T) {
	if code, out, _ := run(t, "version"); code != 0 || !strings.HasPrefix(out, "fulcrum "+Version) {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, errOut := run(t, "serve", "--log-format", "xml", "-c", "x"); code != 2 || !strings.Contains(errOut, "xml") {
		t.Errorf("bad flag value: %d %q", code, errOut)
	}
	if code, _, _ := run(t, "no-such-command"); code != 2 {
		t.Errorf("unknown command exit %d, want 2", code)
	}
}

func TestAnalyze(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "alb.log")
	os.WriteFile(log, []byte(`http 2026-11-22T10:00:00.000000Z app/lb/1 198.51.100.7:4000 10.0.0.1:80 -1 -1 -1 502 - 10 20 "GET http://x:80/ HTTP/1.1" "curl" - - arn:aws:elasticloadbalancing:r:1:targetgroup/web/abc "Root=1" "-" "-" 0 2026-11-22T10:00:00.000000Z "forward" "-" "-" "-" "-" "-" "-"`+"\n"), 0o644)
	code, out, errOut := run(t, "analyze", log)
	if code != 0 || !strings.Contains(out, "1. target-not-listening") || !strings.Contains(out, "fix: ") {
		t.Errorf("text: code %d\n%s\n%s", code, out, errOut)
	}
	report := filepath.Join(dir, "r.html")
	if code, _, errOut := run(t, "analyze", "-o", "html", "--out", report, log); code != 0 {
		t.Fatalf("html: %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(report); !strings.Contains(string(b), "<svg") {
		t.Error("html report lacks its chart")
	}
	if code, _, _ := run(t, "analyze", "-o", "yaml", log); code != 2 {
		t.Errorf("-o yaml: code %d, want 2", code)
	}
	if code, _, _ := run(t, "analyze", "--since", "yesterday", log); code != 2 {
		t.Errorf("--since yesterday: code %d, want 2", code)
	}
	if code, _, errOut := run(t, "analyze", filepath.Join(dir, "missing.log")); code != 2 || !strings.Contains(errOut, "missing.log") {
		t.Errorf("missing file: code %d %q", code, errOut)
	}
	junk := filepath.Join(dir, "junk.log")
	os.WriteFile(junk, []byte("not a log line\nnor this\n"), 0o644)
	if code, out, errOut := run(t, "analyze", "--format", "alb", junk); code != 2 || !strings.Contains(errOut, "junk.log: no line parsed") || out == "" {
		t.Errorf("nothing parsed: code %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestVersion: --version and version agree, and a build stamped with a
// VCS revision is never "dev".
func TestVersion(t *testing.T) {
	_, long, _ := run(t, "--version")
	_, sub, _ := run(t, "version")
	if !strings.HasPrefix(long, "fulcrum ") || !strings.HasPrefix(sub, strings.TrimSpace(long)) {
		t.Errorf("--version %q, version %q", long, sub)
	}
	bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-11-22T10:00:00Z"}}}
	if got := buildVersion(bi); got != "(devel) rev 0123456789ab modified 2026-11-22T10:00:00Z" {
		t.Errorf("git build: %q", got)
	}
	if got := buildVersion(&debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}); got != "v1.2.3" {
		t.Errorf("module build: %q", got)
	}
}

// TestValidateArg: validate FILE works like -c FILE.
func TestValidateArg(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.yaml")
	os.WriteFile(good, []byte("listeners: [{name: web, address: \":8080\", default_target_group: app}]\ntarget_groups: [{name: app}]\n"), 0o644)
	if code, out, errOut := run(t, "validate", good); code != 0 || out != good+": ok\n" {
		t.Errorf("validate FILE: code %d %q %q", code, out, errOut)
	}
	if code, _, _ := run(t, "validate", good, "-c", "other.yaml"); code != 2 {
		t.Errorf("two files: code %d, want 2", code)
	}
}
