//go:build !nokubernetes

package discovery

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// serviceNameLabel is the label that ties an EndpointSlice to its
// Service (https://kubernetes.io/docs/reference/labels-annotations-taints/,
// "kubernetes.io/service-name").
const serviceNameLabel = "kubernetes.io/service-name"

// discoveryV1 returns the EndpointSlices' API group and version.
func discoveryV1() schema.GroupVersion {
	return schema.GroupVersion{Group: "discovery.k8s.io", Version: "v1"}
}

// endpointSlice is the part of a discovery.k8s.io/v1 EndpointSlice
// (https://kubernetes.io/docs/reference/kubernetes-api/service-resources/endpoint-slice-v1/)
// that the provider reads, decoded from the API server's JSON; the other
// fields are ignored.
//
// It is not k8s.io/api/discovery/v1's type because that package imports
// k8s.io/api/core/v1, whose package initialisation and retained methods
// (every core type is registered by its AddToScheme) cost the binary
// about 5 MB and the process about 1.5 MB of RSS. The tests decode what
// k8s.io/api's types encode, to keep the two in step.
type endpointSlice struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Endpoints are the slice's endpoints.
	Endpoints []sliceEndpoint `json:"endpoints"`
	// Ports are the ports every endpoint of the slice serves on.
	Ports []slicePort `json:"ports"`
}

// sliceEndpoint is an EndpointSlice's endpoint: its addresses (the
// first is used) and conditions.
type sliceEndpoint struct {
	Addresses  []string           `json:"addresses"`
	Conditions endpointConditions `json:"conditions,omitempty"`
}

// endpointConditions are an endpoint's conditions; nil is unknown.
type endpointConditions struct {
	Ready       *bool `json:"ready,omitempty"`
	Serving     *bool `json:"serving,omitempty"`
	Terminating *bool `json:"terminating,omitempty"`
}

// slicePort is an EndpointSlice's port: its name (nil for the unnamed
// port) and number (nil for all ports).
type slicePort struct {
	Name *string `json:"name,omitempty"`
	Port *int32  `json:"port,omitempty"`
}

// endpointSliceList is a list of EndpointSlices with its resource
// version.
type endpointSliceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []endpointSlice `json:"items"`
}

// DeepCopyObject implements runtime.Object.
func (s *endpointSlice) DeepCopyObject() runtime.Object { return s.deepCopy() }

func (s *endpointSlice) deepCopy() *endpointSlice {
	c := &endpointSlice{TypeMeta: s.TypeMeta}
	s.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	if s.Endpoints != nil {
		c.Endpoints = make([]sliceEndpoint, len(s.Endpoints))
		for i, e := range s.Endpoints {
			c.Endpoints[i] = sliceEndpoint{Addresses: append([]string(nil), e.Addresses...), Conditions: endpointConditions{
				Ready: copyPtr(e.Conditions.Ready), Serving: copyPtr(e.Conditions.Serving), Terminating: copyPtr(e.Conditions.Terminating)}}
		}
	}
	if s.Ports != nil {
		c.Ports = make([]slicePort, len(s.Ports))
		for i, p := range s.Ports {
			c.Ports[i] = slicePort{Name: copyPtr(p.Name), Port: copyPtr(p.Port)}
		}
	}
	return c
}

// DeepCopyObject implements runtime.Object.
func (l *endpointSliceList) DeepCopyObject() runtime.Object {
	c := &endpointSliceList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&c.ListMeta)
	if l.Items != nil {
		c.Items = make([]endpointSlice, len(l.Items))
		for i := range l.Items {
			c.Items[i] = *l.Items[i].deepCopy()
		}
	}
	return c
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// endpointSliceScheme returns a scheme of discovery.k8s.io/v1's
// EndpointSlice and EndpointSliceList and the meta/v1 types (Status,
// WatchEvent, the options), and nothing else: client-go's kubernetes/scheme,
// whose package initialisation registers every built-in API group, costs
// every fulcrum about 9 MB of RSS and 22 MB of binary, kubernetes
// provider or not.
func endpointSliceScheme() *runtime.Scheme {
	gv := discoveryV1()
	s := runtime.NewScheme()
	s.AddKnownTypeWithName(gv.WithKind("EndpointSlice"), &endpointSlice{})
	s.AddKnownTypeWithName(gv.WithKind("EndpointSliceList"), &endpointSliceList{})
	metav1.AddToGroupVersion(s, gv)
	return s
}

// EndpointSliceClient reads the EndpointSlices of a namespace from the
// discovery.k8s.io/v1 API: GET
// /apis/discovery.k8s.io/v1/namespaces/NAMESPACE/endpointslices, as a
// list or, with watch=true, as a stream of watch events
// (https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes).
type EndpointSliceClient struct {
	rest rest.Interface
}

// NewEndpointSliceClient makes the client of the API server that rc
// describes (from rest.InClusterConfig or a kubeconfig). It copies rc
// and sets the group version, API path, content type (JSON) and
// serializer itself; rc's
// host, TLS, credentials, QPS and timeouts are kept. It fails, wrapping
// rest's error, when rc has no usable host or TLS configuration.
func NewEndpointSliceClient(rc *rest.Config) (*EndpointSliceClient, error) {
	c := rest.CopyConfig(rc)
	gv := discoveryV1()
	c.GroupVersion = &gv
	c.APIPath = "/apis"
	c.NegotiatedSerializer = serializer.NewCodecFactory(endpointSliceScheme()).WithoutConversion()
	// endpointSlice decodes JSON, not protobuf (client-go's typed client
	// asks for protobuf first); for one Service's slices the difference
	// is small.
	c.ContentType, c.AcceptContentTypes = "application/json", "application/json"
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	r, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("discovery.k8s.io/v1 REST client: %w", err)
	}
	return &EndpointSliceClient{rest: r}, nil
}

// list returns the EndpointSlices of namespace that o selects (its
// labelSelector, resourceVersion, limit and continue). Errors are the API
// server's, as *errors.StatusError of k8s.io/apimachinery/pkg/api/errors,
// or the transport's.
func (c *EndpointSliceClient) list(ctx context.Context, namespace string, o metav1.ListOptions) (*endpointSliceList, error) {
	out := &endpointSliceList{}
	err := c.rest.Get().Namespace(namespace).Resource("endpointslices").
		VersionedParams(&o, metav1.ParameterCodec).Timeout(requestTimeout(o)).Do(ctx).Into(out)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// watch opens a watch of the EndpointSlices of namespace that o selects,
// from o.ResourceVersion; its events carry *endpointSlice objects, or a
// *metav1.Status for an ERROR event. Errors are as list's.
func (c *EndpointSliceClient) watch(ctx context.Context, namespace string, o metav1.ListOptions) (watch.Interface, error) {
	o.Watch = true
	return c.rest.Get().Namespace(namespace).Resource("endpointslices").
		VersionedParams(&o, metav1.ParameterCodec).Timeout(requestTimeout(o)).Watch(ctx)
}

// requestTimeout is o's timeoutSeconds as the request's own deadline, as
// client-go's typed clients set it; zero means none.
func requestTimeout(o metav1.ListOptions) time.Duration {
	if o.TimeoutSeconds == nil {
		return 0
	}
	return time.Duration(*o.TimeoutSeconds) * time.Second
}
