//go:build nokubernetes

package config

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEdgeBuildRefusesKubernetes: in a build without the kubernetes
// provider, a kubernetes discovery entry is a configuration problem at its
// own path, listed with the file's other problems before anything starts,
// and the message says which build carries it.
func TestEdgeBuildRefusesKubernetes(t *testing.T) {
	_, err := Load([]byte(`
listeners: [{name: web, address: ":8080", default_target_group: api}]
target_groups:
  - name: api
    discovery:
      - {type: kubernetes, namespace: default, service: api, port: http}
      - {type: dns, record: MX}
`))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err %v, want a configuration error", err)
	}
	var paths []string
	var msg string
	for _, p := range ce.Problems {
		paths = append(paths, p.Path)
		if p.Path == "target_groups[0].discovery[0].type" {
			msg = p.Msg
		}
	}
	for _, want := range []string{"target_groups[0].discovery[0].type", "target_groups[0].discovery[1].name", "target_groups[0].discovery[1].record"} {
		if !slices.Contains(paths, want) {
			t.Errorf("no problem at %s; got %v", want, paths)
		}
	}
	if !strings.Contains(msg, "-tags nokubernetes") || !strings.Contains(msg, "make build") {
		t.Errorf("kubernetes problem %q does not say which build carries the provider", msg)
	}
	if diff := cmp.Diff([]string{"dns", "etcd"}, DiscoveryTypes()); diff != "" {
		t.Errorf("DiscoveryTypes (-want +got):\n%s", diff)
	}
}
