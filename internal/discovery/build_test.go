package discovery

import (
	"context"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

// TestBuildKeepsWhatItCan: a provider that cannot be made (here
// kubernetes outside a cluster, without a kubeconfig) does not stop the
// others, and reports why as its failure.
func TestBuildKeepsWhatItCan(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	cfg, err := config.Load([]byte(`
listeners: [{name: web, address: ":8080", default_target_group: api}]
target_groups:
  - name: api
    discovery:
      - {type: dns, name: api.internal, port: 80, resolver: 127.0.0.1:53}
      - {type: kubernetes, service: api}
`))
	if err != nil {
		t.Fatal(err)
	}
	clients := map[string]*clientv3.Client{}
	groups, err := Build(cfg, clients)
	if err == nil || !strings.Contains(err.Error(), "target_groups[0].discovery[1]") {
		t.Errorf("err %v", err)
	}
	if len(groups) != 1 || len(groups[0].Providers) != 2 || groups[0].Providers[0].String() != "dns A api.internal via 127.0.0.1:53" {
		t.Fatalf("groups %+v", groups)
	}
	var got Update
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	groups[0].Providers[1].Run(ctx, func(u Update) { got = u })
	if got.Err == nil || groups[0].Providers[1].Source().String() != "kubernetes" {
		t.Errorf("the broken provider reported %+v", got)
	}
}
