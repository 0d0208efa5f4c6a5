package discovery

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

// Build makes the providers of every target group of cfg. The etcd
// clients they need are taken from clients, or made and added to it; the
// caller closes them once the providers stopped, also after an error.
// Errors name the provider's configuration path.
func Build(cfg *config.Config, clients map[string]*clientv3.Client) ([]Group, error) {
	var out []Group
	for i, tg := range cfg.TargetGroups {
		g := Group{Name: tg.Name}
		for j, d := range tg.Discovery {
			p, err := build(cfg, d, clients)
			if err != nil {
				return nil, fmt.Errorf("target_groups[%d].discovery[%d]: %w", i, j, err)
			}
			g.Providers = append(g.Providers, p)
		}
		if len(g.Providers) > 0 {
			out = append(out, g)
		}
	}
	return out, nil
}

func build(cfg *config.Config, d config.Discovery, clients map[string]*clientv3.Client) (Provider, error) {
	switch d.Type {
	case "dns":
		resolver := d.Resolver
		if resolver == "" {
			r, err := SystemResolver()
			if err != nil {
				return nil, err
			}
			resolver = r
		}
		port, _ := strconv.Atoi(d.Port) // validated; unused for SRV
		return &DNS{Name: d.Name, Type: dns.StringToType[d.Record], Port: port, Weight: d.Weight, Resolver: resolver,
			MinTTL: d.MinTTL.D(), MaxTTL: d.MaxTTL.D(), Timeout: d.Timeout.D()}, nil
	case "etcd":
		eps := cfg.DiscoveryEndpoints(d)
		c, err := EtcdClient(cfg, eps, clients)
		if err != nil {
			return nil, err
		}
		return &Etcd{Client: c, Prefix: strings.TrimSuffix(d.Prefix, "/"), Weight: d.Weight}, nil
	case "kubernetes":
		return newKubernetes(d)
	}
	return nil, fmt.Errorf("type %q is not dns, etcd or kubernetes", d.Type)
}

// EtcdClient returns the client of endpoints from clients, making it
// when there is none yet. It does not wait for etcd: clientv3 connects
// in the background, and requests fail until it does.
func EtcdClient(cfg *config.Config, endpoints []string, clients map[string]*clientv3.Client) (*clientv3.Client, error) {
	key := strings.Join(endpoints, ",")
	if c := clients[key]; c != nil {
		return c, nil
	}
	dial := config.DefaultEtcdDialTimeout
	if cfg.Cluster != nil {
		dial = cfg.Cluster.Etcd.DialTimeout.D()
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: dial, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %s: %w", key, err)
	}
	clients[key] = c
	return c, nil
}
