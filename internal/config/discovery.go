package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Discovery defaults (docs/fleet.md).
const (
	DefaultDNSMinTTL       = 5 * time.Second
	DefaultDNSMaxTTL       = 300 * time.Second
	DefaultDNSTimeout      = 2 * time.Second
	DefaultEtcdPrefix      = "/fulcrum"
	DefaultEtcdDialTimeout = 2 * time.Second
	DefaultClusterLeaseTTL = 10 * time.Second
	DefaultClusterPublish  = 2 * time.Second
)

// Discovery is one discovery provider of a target group: where Fulcrum
// finds targets besides the file's targets list. Each provider reports
// the full set it knows; targets that vanish from it drain (the group's
// deregistration_delay), and a provider that fails keeps its last good
// set (docs/fleet.md).
type Discovery struct {
	// Type is dns, etcd or kubernetes. Required.
	Type string `yaml:"type"`
	// Name is the DNS name to resolve (dns). Required for dns.
	Name string `yaml:"name"`
	// Record is A, AAAA or SRV (dns). Default A, or SRV when Name starts
	// with "_" (RFC 2782 service names).
	Record string `yaml:"record"`
	// Port is the targets' port: a number for dns A and AAAA records
	// (required there; SRV records carry their own), a port name or
	// number of the Service for kubernetes (default: the slice's only
	// port).
	Port string `yaml:"port"`
	// Resolver is the DNS server, host:port. Default: the first
	// nameserver of /etc/resolv.conf.
	Resolver string `yaml:"resolver"`
	// MinTTL and MaxTTL are the floor and ceiling of the re-resolve
	// interval, which is otherwise the smallest TTL of the answer
	// (dns). Default 5s and 300s; range 1s..3600s, MinTTL <= MaxTTL.
	MinTTL Duration `yaml:"min_ttl"`
	MaxTTL Duration `yaml:"max_ttl"`
	// Timeout bounds one DNS query. Default 2s, range 10ms..60s.
	Timeout Duration `yaml:"timeout"`
	// Prefix is the etcd key prefix the targets live under (etcd), one
	// key per target: PREFIX/HOST:PORT, with an optional JSON value
	// {"weight": N}. Required for etcd.
	Prefix string `yaml:"prefix"`
	// Endpoints are the etcd endpoints (etcd). Default:
	// cluster.etcd.endpoints.
	Endpoints []string `yaml:"endpoints"`
	// Namespace and Service name the Kubernetes Service whose
	// EndpointSlices are the targets (kubernetes). Namespace defaults to
	// "default"; Service is required.
	Namespace string `yaml:"namespace"`
	Service   string `yaml:"service"`
	// Kubeconfig is a kubeconfig file (kubernetes). Default: the
	// in-cluster configuration.
	Kubeconfig string `yaml:"kubeconfig"`
	// Weight is the weight of targets the provider gives none (dns A and
	// AAAA, kubernetes, etcd keys without a value). Default 1, range
	// 1..1000.
	Weight int `yaml:"weight"`
}

// Cluster is the optional top-level cluster section: the etcd several
// Fulcrum instances share what they know through. Without it each
// instance stands alone. Routing never depends on etcd being up.
type Cluster struct {
	// Etcd is the shared store.
	Etcd Etcd `yaml:"etcd"`
	// Instance names this instance in the fleet. Default: the host name.
	Instance string `yaml:"instance"`
	// LeaseTTL is the lease the instance publishes under: its entries
	// vanish this long after it dies. Default 10s, range 2s..600s.
	LeaseTTL Duration `yaml:"lease_ttl"`
	// PublishInterval is how often the instance publishes its view.
	// Default 2s, range 100ms..60s, below LeaseTTL.
	PublishInterval Duration `yaml:"publish_interval"`
	// ConfigKey, when set, is the etcd key the rest of the configuration
	// is read from, at start and whenever it changes (the same plan and
	// commit as a reload; a value with problems changes nothing). The
	// file's cluster section always applies. Without the key, or without
	// etcd, the file's configuration is used.
	ConfigKey string `yaml:"config_key"`
}

// Etcd is how to reach an etcd cluster.
type Etcd struct {
	// Endpoints are host:port or URLs of etcd members. Required.
	Endpoints []string `yaml:"endpoints"`
	// Prefix is the key prefix of everything Fulcrum writes. Default
	// /fulcrum.
	Prefix string `yaml:"prefix"`
	// DialTimeout bounds connecting to etcd. Default 2s, range
	// 10ms..60s.
	DialTimeout Duration `yaml:"dial_timeout"`
}

// UnmarshalYAML decodes a discovery provider over its defaults.
func (d *Discovery) UnmarshalYAML(n *yaml.Node) error {
	type plain Discovery
	v := plain{MinTTL: Duration(DefaultDNSMinTTL), MaxTTL: Duration(DefaultDNSMaxTTL), Timeout: Duration(DefaultDNSTimeout),
		Namespace: "default", Weight: DefaultTargetWeight}
	if err := n.Decode(&v); err != nil {
		return err
	}
	*d = Discovery(v)
	if d.Record == "" && d.Type == "dns" {
		d.Record = "A"
		if strings.HasPrefix(d.Name, "_") {
			d.Record = "SRV"
		}
	}
	return nil
}

// UnmarshalYAML decodes the cluster section over its defaults.
func (c *Cluster) UnmarshalYAML(n *yaml.Node) error {
	type plain Cluster
	v := plain{Etcd: Etcd{Prefix: DefaultEtcdPrefix, DialTimeout: Duration(DefaultEtcdDialTimeout)},
		LeaseTTL: Duration(DefaultClusterLeaseTTL), PublishInterval: Duration(DefaultClusterPublish)}
	if err := n.Decode(&v); err != nil {
		return err
	}
	*c = Cluster(v)
	return nil
}

// DiscoveryEndpoints returns the etcd endpoints a provider uses: its own,
// else the cluster's.
func (c *Config) DiscoveryEndpoints(d Discovery) []string {
	if len(d.Endpoints) > 0 || c.Cluster == nil {
		return d.Endpoints
	}
	return c.Cluster.Etcd.Endpoints
}

func (d Discovery) clone() Discovery {
	d.Endpoints = slices.Clone(d.Endpoints)
	return d
}

func (c *Cluster) clone() *Cluster {
	if c == nil {
		return nil
	}
	n := *c
	n.Etcd.Endpoints = slices.Clone(c.Etcd.Endpoints)
	return &n
}

// fleet validates the cluster section and every target group's
// discovery providers.
func (s *schema) fleet(c *Config) {
	if cl := c.Cluster; cl != nil {
		s.etcdEndpoints("cluster.etcd.endpoints", cl.Etcd.Endpoints, true)
		if !strings.HasPrefix(cl.Etcd.Prefix, "/") {
			s.add("cluster.etcd.prefix", "%q must start with /", cl.Etcd.Prefix)
		}
		s.durRange("cluster.etcd.dial_timeout", cl.Etcd.DialTimeout, 10*time.Millisecond, time.Minute)
		if strings.Contains(cl.Instance, "/") {
			s.add("cluster.instance", "%q must not contain /", cl.Instance)
		}
		if cl.ConfigKey != "" && !strings.HasPrefix(cl.ConfigKey, "/") {
			s.add("cluster.config_key", "%q must start with /", cl.ConfigKey)
		}
		s.durRange("cluster.lease_ttl", cl.LeaseTTL, 2*time.Second, 600*time.Second)
		if s.durRange("cluster.publish_interval", cl.PublishInterval, 100*time.Millisecond, time.Minute) && cl.PublishInterval >= cl.LeaseTTL {
			s.add("cluster.publish_interval", "%s must be shorter than cluster.lease_ttl (%s)", cl.PublishInterval, cl.LeaseTTL)
		}
	}
	for i, tg := range c.TargetGroups {
		for j, d := range tg.Discovery {
			s.discovery(fmt.Sprintf("target_groups[%d].discovery[%d]", i, j), d, c.Cluster != nil)
		}
	}
}

func (s *schema) discovery(p string, d Discovery, cluster bool) {
	s.intRange(p+".weight", d.Weight, 1, 1000)
	switch d.Type {
	case "dns":
		if d.Name == "" {
			s.add(p+".name", "is required for dns")
		}
		if !s.oneOf(p+".record", d.Record, "A", "AAAA", "SRV") {
			return
		}
		if d.Record == "SRV" {
			if d.Port != "" {
				s.add(p+".port", "must not be set for SRV records: each record carries its port")
			}
		} else if n, err := strconv.Atoi(d.Port); err != nil || n < 1 || n > 65535 {
			s.add(p+".port", "%q is not a port number 1..65535 (required for %s records)", d.Port, d.Record)
		}
		if d.Resolver != "" {
			s.hostPort(p+".resolver", d.Resolver, false)
		}
		s.durRange(p+".min_ttl", d.MinTTL, time.Second, time.Hour)
		if s.durRange(p+".max_ttl", d.MaxTTL, time.Second, time.Hour) && d.MaxTTL < d.MinTTL {
			s.add(p+".max_ttl", "%s is below min_ttl (%s)", d.MaxTTL, d.MinTTL)
		}
		s.durRange(p+".timeout", d.Timeout, 10*time.Millisecond, time.Minute)
	case "etcd":
		if !strings.HasPrefix(d.Prefix, "/") {
			s.add(p+".prefix", "%q must start with / (the targets' key prefix)", d.Prefix)
		}
		if len(d.Endpoints) == 0 && !cluster {
			s.add(p+".endpoints", "is required unless cluster.etcd.endpoints is set")
		}
		s.etcdEndpoints(p+".endpoints", d.Endpoints, false)
	case "kubernetes":
		if !kubernetesBuilt {
			s.add(p+".type", "kubernetes is not in this build of fulcrum: it was built with -tags nokubernetes (make build-edge), which leaves client-go out; run a build without that tag (make build)")
			return
		}
		if d.Service == "" {
			s.add(p+".service", "is required for kubernetes")
		}
		if d.Namespace == "" {
			s.add(p+".namespace", "must not be empty")
		}
	case "":
		s.add(p+".type", "is required: dns, etcd or kubernetes")
	default:
		s.add(p+".type", "%q is not dns, etcd or kubernetes", d.Type)
	}
}

// DiscoveryTypes lists the discovery provider types this binary carries,
// in the order the documentation gives them: dns, etcd and, unless built
// with -tags nokubernetes, kubernetes.
func DiscoveryTypes() []string {
	if kubernetesBuilt {
		return []string{"dns", "etcd", "kubernetes"}
	}
	return []string{"dns", "etcd"}
}

// etcdEndpoints checks host:port or http(s)://host:port endpoints.
func (s *schema) etcdEndpoints(p string, eps []string, required bool) {
	if len(eps) == 0 && required {
		s.add(p, "at least one etcd endpoint is required")
	}
	for i, e := range eps {
		hp := strings.TrimPrefix(strings.TrimPrefix(e, "http://"), "https://")
		s.hostPort(fmt.Sprintf("%s[%d]", p, i), hp, false)
	}
}
