//go:build !nokubernetes

package discovery

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

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

// apiEvent is one change of the fake API server's EndpointSlices, at
// resource version rv.
type apiEvent struct {
	rv    int
	typ   string // ADDED, MODIFIED, DELETED
	slice *discoveryv1.EndpointSlice
}

// apiServer is an HTTPS server on 127.0.0.1:0 that serves the
// EndpointSlices of namespace default as kube-apiserver does
// (https://kubernetes.io/docs/reference/using-api/api-concepts/):
// GET .../endpointslices is a list with its resourceVersion; with
// watch=true a chunked stream of {"type":..., "object":...} events after
// resourceVersion; with sendInitialEvents=true (a streaming list) the
// current slices as ADDED, then a BOOKMARK with the
// k8s.io/initial-events-end annotation, then the changes. Both honour
// labelSelector. It speaks JSON only and answers 406 to a request that
// accepts anything else (protobuf, which endpointSlice cannot decode).
type apiServer struct {
	t *testing.T
	// noWatchList refuses streaming lists with 422, as an API server
	// without the WatchList feature does, so that the reflector lists.
	noWatchList bool
	// token, when set, is the bearer token every request must carry.
	token string
	// forbid answers every request with 403 Forbidden.
	forbid bool

	srv *httptest.Server

	mu      sync.Mutex
	rv      int
	slices  map[string]*discoveryv1.EndpointSlice
	log     []apiEvent
	changed chan struct{} // closed and replaced on every change
	// ended is closed and replaced to end the open watches: with an
	// ERROR event of 410 Gone when gone, else as a server timeout does.
	ended chan struct{}
	gone  bool
	// lists and watches count the requests of each kind; unselected
	// counts those without the Service's label selector.
	lists, watches, streamedLists, unselected int
}

func newAPIServer(t *testing.T, configure func(*apiServer), initial ...*discoveryv1.EndpointSlice) *apiServer {
	a := &apiServer{t: t, slices: map[string]*discoveryv1.EndpointSlice{},
		changed: make(chan struct{}), ended: make(chan struct{})}
	if configure != nil {
		configure(a)
	}
	for _, s := range initial {
		a.apply("ADDED", s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apis/discovery.k8s.io/v1/namespaces/default/endpointslices", a.serve)
	a.srv = httptest.NewTLSServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// apply records a change and wakes the watches.
func (a *apiServer) apply(typ string, s *discoveryv1.EndpointSlice) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rv++
	s = s.DeepCopy()
	s.ResourceVersion = strconv.Itoa(a.rv)
	if typ == "DELETED" {
		delete(a.slices, s.Name)
	} else {
		a.slices[s.Name] = s
	}
	a.log = append(a.log, apiEvent{a.rv, typ, s})
	close(a.changed)
	a.changed = make(chan struct{})
}

// endWatches ends the open watches, with 410 Gone (the client must list
// again) when gone, else cleanly (it watches again from where it was).
func (a *apiServer) endWatches(gone bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gone = gone
	close(a.ended)
	a.ended = make(chan struct{})
}

func (a *apiServer) counts() (lists, watches, streamedLists, unselected int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lists, a.watches, a.streamedLists, a.unselected
}

func (a *apiServer) status(w http.ResponseWriter, code int, reason metav1.StatusReason) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(&metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status: metav1.StatusFailure, Code: int32(code), Reason: reason, Message: string(reason)})
}

func (a *apiServer) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Header.Get("Accept") != "application/json" {
		a.status(w, http.StatusNotAcceptable, metav1.StatusReasonNotAcceptable)
		return
	}
	if a.token != "" && r.Header.Get("Authorization") != "Bearer "+a.token {
		a.status(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized)
		return
	}
	if a.forbid {
		a.status(w, http.StatusForbidden, metav1.StatusReasonForbidden)
		return
	}
	sel, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		a.status(w, http.StatusBadRequest, metav1.StatusReasonBadRequest)
		return
	}
	a.mu.Lock()
	if sel.Empty() {
		a.unselected++
	}
	watching, streamed := q.Get("watch") == "true", q.Get("sendInitialEvents") == "true"
	switch {
	case !watching:
		a.lists++
	case streamed:
		a.streamedLists++
	default:
		a.watches++
	}
	a.mu.Unlock()
	if !watching {
		a.list(w, sel)
		return
	}
	if streamed && a.noWatchList {
		a.status(w, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid)
		return
	}
	from, _ := strconv.Atoi(q.Get("resourceVersion"))
	a.watch(w, r, sel, from, streamed)
}

func (a *apiServer) list(w http.ResponseWriter, sel labels.Selector) {
	a.mu.Lock()
	l := discoveryv1.EndpointSliceList{TypeMeta: metav1.TypeMeta{Kind: "EndpointSliceList", APIVersion: "discovery.k8s.io/v1"},
		ListMeta: metav1.ListMeta{ResourceVersion: strconv.Itoa(a.rv)}}
	for _, s := range a.slices {
		if sel.Matches(labels.Set(s.Labels)) {
			l.Items = append(l.Items, *s)
		}
	}
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&l)
}

// watch streams the events after resource version from, until the
// client goes away.
func (a *apiServer) watch(w http.ResponseWriter, r *http.Request, sel labels.Selector, from int, streamed bool) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	enc := json.NewEncoder(w)
	send := func(typ string, obj any) {
		if err := enc.Encode(map[string]any{"type": typ, "object": obj}); err != nil {
			a.t.Logf("watch: %v", err)
		}
	}
	typed := func(s *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
		s = s.DeepCopy()
		s.Kind, s.APIVersion = "EndpointSlice", "discovery.k8s.io/v1"
		return s
	}
	a.mu.Lock()
	next, ended := len(a.log), a.ended
	if streamed {
		for _, s := range a.slices {
			if sel.Matches(labels.Set(s.Labels)) {
				send("ADDED", typed(s))
			}
		}
		send("BOOKMARK", &discoveryv1.EndpointSlice{TypeMeta: metav1.TypeMeta{Kind: "EndpointSlice", APIVersion: "discovery.k8s.io/v1"},
			ObjectMeta: metav1.ObjectMeta{ResourceVersion: strconv.Itoa(a.rv),
				Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"}}})
	} else {
		for next > 0 && a.log[next-1].rv > from {
			next--
		}
	}
	a.mu.Unlock()
	for {
		a.mu.Lock()
		events, changed := a.log[next:], a.changed
		next = len(a.log)
		a.mu.Unlock()
		for _, e := range events {
			if sel.Matches(labels.Set(e.slice.Labels)) {
				send(e.typ, typed(e.slice))
			}
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-ended:
			a.mu.Lock()
			gone := a.gone
			a.mu.Unlock()
			if gone {
				send("ERROR", &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
					Status: metav1.StatusFailure, Code: http.StatusGone, Reason: metav1.StatusReasonExpired, Message: "too old resource version"})
			}
			return
		case <-changed:
		}
	}
}

// caPEM is the PEM of the server's certificate, its own CA.
func (a *apiServer) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.srv.Certificate().Raw})
}

// client is an EndpointSliceClient of a.
func (a *apiServer) client(t *testing.T) *EndpointSliceClient {
	c, err := NewEndpointSliceClient(&rest.Config{Host: a.srv.URL, BearerToken: a.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: a.caPEM()}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runManager runs a Manager of p for group g until the test ends.
func runManager(t *testing.T, reg *groupRegistry, p Provider) {
	m := New([]Group{{Name: "api", Providers: []Provider{p}}}, reg, nil)
	m.Resync = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestKubernetesDiscovery drives EndpointSlice changes from a fake API
// server through the informer, with a streaming list and with list then
// watch: ready pods are routable, a terminating pod that still serves
// drains, a new pod that is terminating is never registered, another
// Service's slices are ignored, a watch that ends or expires (410 Gone)
// is taken up again, a deleted slice's pods drain.
func TestKubernetesDiscovery(t *testing.T) {
	for _, noWatchList := range []bool{false, true} {
		t.Run(fmt.Sprintf("noWatchList=%v", noWatchList), func(t *testing.T) {
			a := newAPIServer(t, func(a *apiServer) { a.noWatchList = noWatchList },
				slice("api-1", "api", endpoint("10.1.0.1", true, true, false), endpoint("10.1.0.2", true, true, false)),
				slice("other-1", "other", endpoint("10.9.0.1", true, true, false)))
			g := target.NewGroup("api", nil)
			reg := newRegistry(g)
			runManager(t, reg, &Kubernetes{Client: a.client(t), Namespace: "default", Service: "api", Port: "http", Weight: 2})

			eventually(t, "ready pods registered", func() bool {
				v := view(g)
				return v["10.1.0.1:8080"] == targetView{"healthy", "kubernetes", 2} && v["10.1.0.2:8080"].by == "kubernetes"
			})
			if _, ok := view(g)["10.9.0.1:8080"]; ok {
				t.Error("another Service's pod was registered")
			}

			// 10.1.0.2 terminates but still serves: it drains. 10.1.0.3
			// is new and already terminating: never registered. 10.1.0.4
			// starts. Another Service's change is not seen.
			a.apply("MODIFIED", slice("api-1", "api", endpoint("10.1.0.1", true, true, false), endpoint("10.1.0.2", false, true, true),
				endpoint("10.1.0.3", false, true, true), endpoint("10.1.0.4", true, true, false)))
			a.apply("ADDED", slice("other-2", "other", endpoint("10.9.0.2", true, true, false)))
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
			v := view(g)
			for _, addr := range []string{"10.1.0.3:8080", "10.9.0.1:8080", "10.9.0.2:8080"} {
				if _, ok := v[addr]; ok {
					t.Errorf("%s was registered", addr)
				}
			}

			// The watch ends as at a server timeout: the informer
			// watches again from its resource version and misses
			// nothing. Then it expires (410 Gone): the informer lists
			// again.
			a.endWatches(false)
			a.apply("ADDED", slice("api-2", "api", endpoint("10.1.0.5", true, true, false)))
			eventually(t, "a change after the watch ended", func() bool { return view(g)["10.1.0.5:8080"].state == "healthy" })
			lists0, _, streamed0, _ := a.counts()
			a.endWatches(true)
			a.apply("ADDED", slice("api-3", "api", endpoint("10.1.0.6", true, true, false)))
			eventually(t, "a change after the watch expired", func() bool { return view(g)["10.1.0.6:8080"].state == "healthy" })
			if lists, _, streamed, _ := a.counts(); lists+streamed <= lists0+streamed0 {
				t.Error("no list again after 410 Gone")
			}

			// The slice goes away: its targets drain.
			a.apply("DELETED", slice("api-1", "api"))
			eventually(t, "deleted slice drains", func() bool {
				v := view(g)
				return v["10.1.0.1:8080"].state == "draining" && v["10.1.0.4:8080"].state == "draining"
			})

			lists, watches, streamed, unselected := a.counts()
			if unselected != 0 {
				t.Errorf("%d requests without the Service's label selector", unselected)
			}
			if noWatchList && (lists == 0 || watches == 0) || !noWatchList && (streamed == 0 || lists != 0) {
				t.Errorf("%d lists, %d watches, %d streamed lists", lists, watches, streamed)
			}
		})
	}
}

// TestKubernetesKubeconfig makes the provider as Build does, from a
// kubeconfig naming the fake API server, its CA and a bearer token
// (clientcmd sends credentials over TLS only).
func TestKubernetesKubeconfig(t *testing.T) {
	a := newAPIServer(t, func(a *apiServer) { a.token = "s3cret" }, slice("api-1", "api", endpoint("10.1.0.1", true, true, false)))
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+a.srv.URL+`", certificate-authority-data: `+base64.StdEncoding.EncodeToString(a.caPEM())+`}}]
users: [{name: u, user: {token: s3cret}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := newKubernetes(config.Discovery{Type: "kubernetes", Kubeconfig: kubeconfig, Namespace: "default", Service: "api", Port: "http", Weight: 1})
	if err != nil {
		t.Fatal(err)
	}
	g := target.NewGroup("api", nil)
	runManager(t, newRegistry(g), p)
	eventually(t, "pod registered", func() bool { return view(g)["10.1.0.1:8080"] == targetView{"healthy", "kubernetes", 1} })

	if _, err := newKubernetes(config.Discovery{Type: "kubernetes", Kubeconfig: filepath.Join(t.TempDir(), "none")}); err == nil {
		t.Error("a missing kubeconfig made a provider")
	}
}

// TestKubernetesInCluster: outside a cluster the in-cluster
// configuration fails with rest.ErrNotInCluster.
func TestKubernetesInCluster(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	if _, err := newKubernetes(config.Discovery{Type: "kubernetes", Service: "api"}); !errors.Is(err, rest.ErrNotInCluster) {
		t.Errorf("err %v, want rest.ErrNotInCluster", err)
	}
}

// TestKubernetesForbidden: a refused list is reported as the API
// server's error, and the informer keeps trying.
func TestKubernetesForbidden(t *testing.T) {
	a := newAPIServer(t, func(a *apiServer) { a.forbid = true })
	p := &Kubernetes{Client: a.client(t), Namespace: "default", Service: "api"}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx, func(u Update) {
			select {
			case errs <- u.Err:
			default:
			}
		})
	}()
	defer func() { cancel(); <-done }()
	select {
	case err := <-errs:
		if !apierrors.IsForbidden(err) {
			t.Errorf("reported %v, want the API server's 403", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no error reported")
	}
}

// decoded is s as the client decodes the API server's JSON of it.
func decoded(t *testing.T, s *discoveryv1.EndpointSlice) *endpointSlice {
	t.Helper()
	s = s.DeepCopy()
	s.Kind, s.APIVersion = "EndpointSlice", "discovery.k8s.io/v1"
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	obj, _, err := serializer.NewCodecFactory(endpointSliceScheme()).UniversalDeserializer().Decode(b, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, ok := obj.(*endpointSlice)
	if !ok {
		t.Fatalf("decoded a %T", obj)
	}
	return out
}

// TestEndpointSliceDecoding: what k8s.io/api's EndpointSlice encodes,
// every field set, decodes into the provider's endpointSlice, and its
// deep copy shares nothing with it.
func TestEndpointSliceDecoding(t *testing.T) {
	full := slice("api-1", "api", endpoint("10.1.0.1", true, true, false),
		discoveryv1.Endpoint{Addresses: []string{"10.1.0.2", "10.1.0.3"}, Hostname: ptr("b"), NodeName: ptr("n"), Zone: ptr("z"),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "p"}, Hints: &discoveryv1.EndpointHints{ForZones: []discoveryv1.ForZone{{Name: "z"}}}})
	full.Ports[0].Protocol, full.Ports[0].AppProtocol = ptr(corev1.ProtocolTCP), ptr("http")
	want := &endpointSlice{
		TypeMeta:   metav1.TypeMeta{Kind: "EndpointSlice", APIVersion: "discovery.k8s.io/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "api-1", Namespace: "default", Labels: map[string]string{serviceNameLabel: "api"}},
		Endpoints: []sliceEndpoint{{Addresses: []string{"10.1.0.1"}, Conditions: endpointConditions{ptr(true), ptr(true), ptr(false)}},
			{Addresses: []string{"10.1.0.2", "10.1.0.3"}}},
		Ports: []slicePort{{ptr("http"), ptr(int32(8080))}, {ptr("metrics"), ptr(int32(9090))}},
	}
	got := decoded(t, full)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("decoded (-want +got):\n%s", diff)
	}
	c, ok := got.DeepCopyObject().(*endpointSlice)
	if !ok || !cmp.Equal(c, got) {
		t.Fatalf("deep copy %+v", c)
	}
	c.Labels["x"] = "y"
	c.Endpoints[0].Addresses[0] = "10.9.9.9"
	*c.Endpoints[0].Conditions.Ready = false
	*c.Ports[0].Name, *c.Ports[0].Port = "x", 1
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changing the copy changed the original (-want +got):\n%s", diff)
	}
	l := &endpointSliceList{ListMeta: metav1.ListMeta{ResourceVersion: "7"}, Items: []endpointSlice{*got}}
	lc, ok := l.DeepCopyObject().(*endpointSliceList)
	if !ok || !cmp.Equal(lc, l) {
		t.Fatalf("list deep copy %+v", lc)
	}
	lc.Items[0].Endpoints[0].Addresses[0] = "10.9.9.9"
	if l.Items[0].Endpoints[0].Addresses[0] != "10.1.0.1" {
		t.Error("changing the list's copy changed the original")
	}
}

func TestKubernetesEndpointConditions(t *testing.T) {
	k := &Kubernetes{Port: "", Weight: 1}
	s := slice("x", "api", discoveryv1.Endpoint{Addresses: []string{"10.0.0.1"}}, // nil conditions: ready
		endpoint("10.0.0.2", false, false, true), // gone
		endpoint("10.0.0.3", false, false, false))
	s.Ports = s.Ports[:1]
	got := k.endpoints([]*endpointSlice{decoded(t, s), decoded(t, slice("y", "api", endpoint("10.0.0.1", false, true, true)))})
	if len(got) != 1 || got[0] != (Endpoint{Address: "10.0.0.1:8080", Weight: 1}) {
		t.Errorf("endpoints %+v", got)
	}
	k.Port = "9090"
	if got := k.endpoints([]*endpointSlice{decoded(t, slice("z", "api", endpoint("10.0.0.5", true, true, false)))}); len(got) != 1 || got[0].Address != "10.0.0.5:9090" {
		t.Errorf("port by number: %+v", got)
	}
}
