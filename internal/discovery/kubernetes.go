//go:build !nokubernetes

package discovery

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Kubernetes finds targets in the EndpointSlices of a Service
// (https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/),
// through an informer: it lists them once, then watches them. Following
// the slices' conditions:
//   - ready: a target, routable;
//   - serving and terminating (a pod shutting down that still answers):
//     draining, so it finishes its requests and gets no new ones; never
//     registered when it was not already;
//   - neither: not a target (it drains if it was one).
//
// A nil ready or serving condition counts as true and a nil terminating
// as false, as the EndpointConditions API says.
type Kubernetes struct {
	// Client is the discovery.k8s.io/v1 API client, from
	// NewEndpointSliceClient.
	Client *EndpointSliceClient
	// Namespace and Service name the Service.
	Namespace, Service string
	// Port is the slice port's name or number; "" takes the slice's only
	// port.
	Port string
	// Weight is the targets' weight, 1..1000.
	Weight int
	// Resync is the informer's resync period; zero means none.
	Resync time.Duration
}

// Source implements Provider.
func (k *Kubernetes) Source() target.Source { return target.SourceKubernetes }

// String implements Provider: "kubernetes NAMESPACE/SERVICE:PORT".
func (k *Kubernetes) String() string {
	s := "kubernetes " + k.Namespace + "/" + k.Service
	if k.Port != "" {
		s += ":" + k.Port
	}
	return s
}

// Run implements Provider. It reports a failed list or watch (the
// informer retries it with back-off) as an error, and the full set after
// every change of the Service's slices.
func (k *Kubernetes) Run(ctx context.Context, report func(Update)) {
	sel := labels.SelectorFromSet(labels.Set{serviceNameLabel: k.Service})
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = sel.String()
			return k.Client.list(ctx, k.Namespace, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = sel.String()
			return k.Client.watch(ctx, k.Namespace, o)
		},
	}
	// The reflector streams the list (WatchList, a watch with
	// sendInitialEvents) and falls back to list then watch when the API
	// server refuses it.
	informer := cache.NewSharedInformer(lw, &endpointSlice{}, k.Resync)
	changed := make(chan struct{}, 1)
	kick := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	informer.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		report(Update{Err: fmt.Errorf("%s: list or watch of EndpointSlices: %w", k, err)})
	})
	informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { kick() },
		UpdateFunc: func(any, any) { kick() },
		DeleteFunc: func(any) { kick() },
	})
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { informer.RunWithContext(ctx) })
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		return
	}
	kick()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		report(Update{Endpoints: k.endpoints(selected(informer.GetStore().List(), sel))})
	}
}

// selected returns the EndpointSlices of objs that sel matches (the
// store holds what the API server sent for the label selector; this
// checks again, as client-go's listers do).
func selected(objs []any, sel labels.Selector) []*endpointSlice {
	var out []*endpointSlice
	for _, o := range objs {
		if s, ok := o.(*endpointSlice); ok && sel.Matches(labels.Set(s.Labels)) {
			out = append(out, s)
		}
	}
	return out
}

// endpoints maps slices to endpoints. An address in several slices (a
// pod moving between them) is ready when any says so.
func (k *Kubernetes) endpoints(slices []*endpointSlice) []Endpoint {
	byAddr := map[string]int{}
	var out []Endpoint
	for _, s := range slices {
		port, ok := k.slicePort(s)
		if !ok {
			continue
		}
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			c := e.Conditions
			ready := c.Ready == nil || *c.Ready
			serving := c.Serving == nil || *c.Serving
			terminating := c.Terminating != nil && *c.Terminating
			var ep Endpoint
			switch {
			case ready && !terminating:
				ep = Endpoint{Weight: k.Weight}
			case serving && terminating:
				ep = Endpoint{Weight: k.Weight, Draining: true}
			default:
				continue
			}
			ep.Address = net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(port)))
			if i, seen := byAddr[ep.Address]; seen {
				out[i].Draining = out[i].Draining && ep.Draining
				continue
			}
			byAddr[ep.Address] = len(out)
			out = append(out, ep)
		}
	}
	return out
}

// slicePort returns the port of the slice named or numbered k.Port.
func (k *Kubernetes) slicePort(s *endpointSlice) (int32, bool) {
	if k.Port == "" && len(s.Ports) == 1 && s.Ports[0].Port != nil {
		return *s.Ports[0].Port, true
	}
	for _, p := range s.Ports {
		if p.Port == nil {
			continue
		}
		if (p.Name != nil && *p.Name == k.Port) || strconv.Itoa(int(*p.Port)) == k.Port {
			return *p.Port, true
		}
	}
	return 0, false
}

// newKubernetes makes the provider of d, with a client from d.Kubeconfig
// or, without one, the in-cluster configuration.
func newKubernetes(d config.Discovery) (Provider, error) {
	var rc *rest.Config
	var err error
	if d.Kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", d.Kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client configuration: %w", err)
	}
	c, err := NewEndpointSliceClient(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &Kubernetes{Client: c, Namespace: d.Namespace, Service: d.Service, Port: d.Port, Weight: d.Weight}, nil
}
