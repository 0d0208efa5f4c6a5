//go:build !nokubernetes

package cli

import (
	"strings"
	"testing"
)

// TestEdgeBuildFull: the default build lists every discovery provider
// (the nokubernetes build's test is build_nokubernetes_test.go).
func TestEdgeBuildFull(t *testing.T) {
	if code, out, _ := run(t, "version"); code != 0 || !strings.HasSuffix(out, "\ndiscovery providers: dns, etcd, kubernetes\n") {
		t.Errorf("version: %d %q", code, out)
	}
}
