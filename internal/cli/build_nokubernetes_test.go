//go:build nokubernetes

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEdgeBuild: a binary built with -tags nokubernetes says which
// providers it carries, and validate (so serve, which loads the same way)
// refuses a kubernetes provider at its path, with the file's other
// problems, before anything starts.
func TestEdgeBuild(t *testing.T) {
	if code, out, _ := run(t, "version"); code != 0 || !strings.HasSuffix(out, "\ndiscovery providers: dns, etcd\n") {
		t.Errorf("version: %d %q", code, out)
	}
	cfg := filepath.Join(t.TempDir(), "k8s.yaml")
	os.WriteFile(cfg, []byte(`listeners: [{name: web, address: ":8080", default_target_group: app}]
target_groups:
  - name: app
    health_check: {interval: banana}
    discovery: [{type: kubernetes, service: app}]
`), 0o644)
	code, _, errOut := run(t, "validate", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, "2 configuration problem(s):") ||
		!strings.Contains(errOut, "target_groups[0].discovery[0].type (line 5): kubernetes is not in this build of fulcrum") {
		t.Errorf("validate: code %d, stderr %q", code, errOut)
	}
	if code, _, errOut := run(t, "serve", "-c", cfg); code != 1 || !strings.Contains(errOut, "kubernetes is not in this build") {
		t.Errorf("serve: code %d, stderr %q", code, errOut)
	}
}
