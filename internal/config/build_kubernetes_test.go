//go:build !nokubernetes

package config

import (
	"strings"
	"testing"
)

// TestEdgeBuildDiscoveryTypes: the full build carries every provider
// type the schema knows (the nokubernetes build's test is
// build_nokubernetes_test.go).
func TestEdgeBuildDiscoveryTypes(t *testing.T) {
	if got := strings.Join(DiscoveryTypes(), " "); got != "dns etcd kubernetes" {
		t.Errorf("DiscoveryTypes %q", got)
	}
}
