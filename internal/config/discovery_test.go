package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDiscoveryConfig(t *testing.T) {
	cfg, err := Load([]byte(`
cluster:
  etcd: {endpoints: ["127.0.0.1:2379"], prefix: /fulcrum, dial_timeout: 2s}
  instance: lb-a
listeners: [{name: web, address: ":8080", default_target_group: api}]
target_groups:
  - name: api
    targets: [{address: "10.0.0.1:80"}]
    discovery:
      - {type: dns, name: _http._tcp.api.internal, record: SRV, resolver: 127.0.0.1:53}
      - {type: dns, name: api.internal, record: A, port: 8080}
      - {type: etcd, prefix: /fulcrum/target-groups/api/targets}
      - {type: kubernetes, namespace: default, service: api, port: http}
      - {type: dns, name: _x._tcp.api.internal}
`))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.TargetGroups[0].Discovery
	if len(d) != 5 || d[1].Port != "8080" || d[0].MinTTL.D() != DefaultDNSMinTTL || d[0].MaxTTL.D() != DefaultDNSMaxTTL || d[3].Port != "http" ||
		d[4].Record != "SRV" || d[2].Weight != 1 {
		t.Errorf("discovery %+v", d)
	}
	if eps := cfg.DiscoveryEndpoints(d[2]); len(eps) != 1 || eps[0] != "127.0.0.1:2379" {
		t.Errorf("etcd endpoints %v", eps)
	}
	if c := cfg.Cluster; c.Instance != "lb-a" || c.LeaseTTL.D() != DefaultClusterLeaseTTL || c.Etcd.DialTimeout.D() != 2*time.Second {
		t.Errorf("cluster %+v", c)
	}
}

func TestDiscoveryConfigProblems(t *testing.T) {
	_, err := Load([]byte(`
cluster: {etcd: {prefix: fulcrum}, lease_ttl: 1s, config_key: config}
listeners: [{name: web, address: ":8080", default_target_group: api}]
target_groups:
  - name: api
    discovery:
      - {type: dns, name: api.internal, record: A}
      - {type: dns, record: MX}
      - {type: dns, name: _a._tcp.x, port: 80, min_ttl: 10s, max_ttl: 5s}
      - {type: etcd, prefix: targets}
      - {type: kubernetes}
      - {type: consul}
      - {name: x}
`))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err %v", err)
	}
	want := []string{
		"cluster.etcd.endpoints", "cluster.etcd.prefix", "cluster.lease_ttl", "cluster.config_key",
		"target_groups[0].discovery[0].port", "target_groups[0].discovery[1].name", "target_groups[0].discovery[1].record",
		"target_groups[0].discovery[2].port", "target_groups[0].discovery[2].max_ttl",
		"target_groups[0].discovery[3].prefix", "target_groups[0].discovery[4].service",
		"target_groups[0].discovery[5].type", "target_groups[0].discovery[6].type",
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.Path)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("no problem at %s; got %s", w, strings.Join(got, ", "))
		}
	}
}
