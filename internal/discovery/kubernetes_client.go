//go:build !nokubernetes

package discovery

import (
	"context"
	"fmt"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// EndpointSliceClient reads the EndpointSlices of one namespace from
// the discovery.k8s.io/v1 API
// (https://kubernetes.io/docs/reference/kubernetes-api/service-resources/endpoint-slice-v1/):
// GET /apis/discovery.k8s.io/v1/namespaces/NAMESPACE/endpointslices, as
// a list or, with watch=true, as a stream of watch events
// (https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes).
//
// It decodes with a scheme of its own that holds discovery.k8s.io/v1 and
// the meta/v1 types (Status, WatchEvent, the options) only, instead of
// client-go's kubernetes/scheme, whose package initialisation registers
// every built-in API group: that costs the binary about 14 MB of RSS
// whether or not a kubernetes provider is configured.
type EndpointSliceClient struct {
	rest rest.Interface
}

// NewEndpointSliceClient makes the client of the API server that rc
// describes (from rest.InClusterConfig or a kubeconfig). It copies rc
// and sets the group version, API path and serializer itself; rc's
// host, TLS, credentials, QPS and timeouts are kept. It fails, wrapping
// rest's error, when rc has no usable host or TLS configuration.
func NewEndpointSliceClient(rc *rest.Config) (*EndpointSliceClient, error) {
	scheme := runtime.NewScheme()
	if err := discoveryv1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("discovery.k8s.io/v1 scheme: %w", err)
	}
	c := rest.CopyConfig(rc)
	c.GroupVersion = &discoveryv1.SchemeGroupVersion
	c.APIPath = "/apis"
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc2, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("discovery.k8s.io/v1 REST client: %w", err)
	}
	return &EndpointSliceClient{rest: rc2}, nil
}

// List returns the EndpointSlices of namespace that o selects (its
// labelSelector, resourceVersion, limit and continue). Errors are the API
// server's, as *errors.StatusError of k8s.io/apimachinery/pkg/api/errors,
// or the transport's.
func (c *EndpointSliceClient) List(ctx context.Context, namespace string, o metav1.ListOptions) (*discoveryv1.EndpointSliceList, error) {
	out := &discoveryv1.EndpointSliceList{}
	err := c.rest.Get().Namespace(namespace).Resource("endpointslices").
		VersionedParams(&o, metav1.ParameterCodec).Timeout(requestTimeout(o)).Do(ctx).Into(out)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Watch opens a watch of the EndpointSlices of namespace that o selects,
// from o.ResourceVersion; its events carry *discoveryv1.EndpointSlice
// objects, or a *metav1.Status for an ERROR event. Errors are as List's.
func (c *EndpointSliceClient) Watch(ctx context.Context, namespace string, o metav1.ListOptions) (watch.Interface, error) {
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
