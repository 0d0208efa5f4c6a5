// Command goproxy is the "plain httputil.ReverseProxy" of the benchmark:
// the load balancer a Go programmer writes first. Round robin over the
// backends through an atomic counter, keep-alive to them, no buffer pool.
// It is deliberately naive; bench/compare.sh measures Fulcrum against it.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8086", "address to listen on")
	backends := flag.String("backends", "", "comma-separated backend URLs")
	cert := flag.String("tls-cert", "", "certificate file; with -tls-key, serve HTTPS")
	key := flag.String("tls-key", "", "key file")
	flag.Parse()
	var targets []*url.URL
	for _, b := range strings.Split(*backends, ",") {
		u, err := url.Parse(b)
		if err != nil {
			log.Fatalf("backend %q: %v", b, err)
		}
		targets = append(targets, u)
	}
	var n atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[n.Add(1)%uint64(len(targets))])
			r.SetXForwarded()
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 1024, ForceAttemptHTTP2: false},
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	srv := &http.Server{Addr: *listen, Handler: proxy}
	if *cert != "" {
		log.Fatal(srv.ListenAndServeTLS(*cert, *key))
	}
	log.Fatal(srv.ListenAndServe())
}
