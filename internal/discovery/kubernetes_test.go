//go:build !nokubernetes

package discovery

import (
	"context"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	discoveryclient "k8s.io/client-go/kubernetes/typed/discovery/v1"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// noWatchList is the fake clientset's discovery client, telling the
// reflector that it cannot stream lists, as the fake clientset does.
type noWatchList struct {
	discoveryclient.DiscoveryV1Interface
}

func (noWatchList) IsWatchListSemanticsUnSupported() bool { return true }

func ptr[T any](v T) *T { return &v }

// slice is an EndpointSlice of Service api with port "http" 8080.
func slice(name, service string, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080))}, {Name: ptr("metrics"), Port: ptr(int32(9090))}},
		Endpoints:   eps,
	}
}

func endpoint(ip string, ready, serving, terminating bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating}}
}

// TestKubernetesDiscovery drives EndpointSlice changes through the
// informer with client-go's fake clientset: ready pods are routable, a
// terminating pod that still serves drains, a new pod that is terminating
// is never registered, another Service's slices are ignored.
func TestKubernetesDiscovery(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(slice("api-1", "api", endpoint("10.1.0.1", true, true, false), endpoint("10.1.0.2", true, true, false)),
		slice("other-1", "other", endpoint("10.9.0.1", true, true, false)))
	g := target.NewGroup("api", nil)
	reg := newRegistry(g)
	p := &Kubernetes{Client: noWatchList{client.DiscoveryV1()}, Namespace: "default", Service: "api", Port: "http", Weight: 2}
	m := New([]Group{{Name: "api", Providers: []Provider{p}}}, reg, nil)
	m.Resync = 10 * time.Millisecond
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { m.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()

	eventually(t, "ready pods registered", func() bool {
		v := view(g)
		return v["10.1.0.1:8080"] == targetView{"healthy", "kubernetes", 2} && v["10.1.0.2:8080"].by == "kubernetes"
	})
	if _, ok := view(g)["10.9.0.1:8080"]; ok {
		t.Error("another Service's pod was registered")
	}

	// 10.1.0.2 terminates but still serves: it drains. 10.1.0.3 is new
	// and already terminating: never registered. 10.1.0.4 starts.
	upd := slice("api-1", "api", endpoint("10.1.0.1", true, true, false), endpoint("10.1.0.2", false, true, true),
		endpoint("10.1.0.3", false, true, true), endpoint("10.1.0.4", true, true, false))
	if _, err := client.DiscoveryV1().EndpointSlices("default").Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "terminating pod draining", func() bool {
		v := view(g)
		return v["10.1.0.2:8080"].state == "draining" && v["10.1.0.4:8080"].state == "healthy"
	})
	reg.mu.Lock()
	why := reg.whys["10.1.0.2:8080"]
	reg.mu.Unlock()
	if why != "Target is terminating (kubernetes default/api:http): it finishes its requests and gets no new ones" {
		t.Errorf("drain evidence %q", why)
	}
	if _, ok := view(g)["10.1.0.3:8080"]; ok {
		t.Error("a terminating pod was registered")
	}

	// The slice goes away: its targets drain.
	if err := client.DiscoveryV1().EndpointSlices("default").Delete(ctx, "api-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted slice drains", func() bool {
		v := view(g)
		return v["10.1.0.1:8080"].state == "draining" && v["10.1.0.4:8080"].state == "draining"
	})
}

func TestKubernetesEndpointConditions(t *testing.T) {
	k := &Kubernetes{Port: "", Weight: 1}
	s := slice("x", "api", discoveryv1.Endpoint{Addresses: []string{"10.0.0.1"}}, // nil conditions: ready
		endpoint("10.0.0.2", false, false, true), // gone
		endpoint("10.0.0.3", false, false, false))
	s.Ports = s.Ports[:1]
	got := k.endpoints([]*discoveryv1.EndpointSlice{s, slice("y", "api", endpoint("10.0.0.1", false, true, true))})
	if len(got) != 1 || got[0] != (Endpoint{Address: "10.0.0.1:8080", Weight: 1}) {
		t.Errorf("endpoints %+v", got)
	}
	k.Port = "9090"
	if got := k.endpoints([]*discoveryv1.EndpointSlice{slice("z", "api", endpoint("10.0.0.5", true, true, false))}); len(got) != 1 || got[0].Address != "10.0.0.5:9090" {
		t.Errorf("port by number: %+v", got)
	}
}
