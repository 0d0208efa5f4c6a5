package discovery

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Build makes the providers of every target group of cfg. The etcd
// clients they need are taken from clients, or made and added to it; the
// caller closes them once the providers stopped. A provider that cannot
// be made (no resolver, no Kubernetes configuration) is replaced by one
// that reports why as its failure, so that it shows in the evidence; the
// returned error joins those reasons, each with its configuration path.
func Build(cfg *config.Config, clients map[string]*clientv3.Client) ([]Group, error) {
	var out []Group
	var errs []error
	for i, tg := range cfg.TargetGroups {
		g := Group{Name: tg.Name}
		for j, d := range tg.Discovery {
			p, err := build(cfg, d, clients)
			if err != nil {
				err = fmt.Errorf("target_groups[%d].discovery[%d]: %w", i, j, err)
				errs = append(errs, err)
				p = &broken{typ: d.Type, err: err}
			}
			g.Providers = append(g.Providers, p)
		}
		if len(g.Providers) > 0 {
			out = append(out, g)
		}
	}
	return out, errors.Join(errs...)
}

// broken stands for a provider that could not be made: it reports why,
// once, and finds nothing.
type broken struct {
	typ string
	err error
}

func (b *broken) Source() target.Source {
	s, _ := target.ParseSource(b.typ)
	return s
}

func (b *broken) String() string { return b.typ + " (not started)" }

func (b *broken) Run(ctx context.Context, report func(Update)) {
	report(Update{Err: b.err})
	<-ctx.Done()
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
