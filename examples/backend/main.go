// Command backend is a tiny sample target for trying Fulcrum: it answers
// every request with its name and the request's path, and /healthz with 200.
//
//	go run ./examples/backend -listen 127.0.0.1:9001 -name one
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:9001", "address to listen on")
	name := flag.String("name", "backend", "name to answer with")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", *name)
		fmt.Fprintf(w, "hello from %s: %s %s (request id %s)\n", *name, r.Method, r.URL.Path, r.Header.Get("X-Request-Id"))
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	log.Printf("backend %s listening on %s", *name, *addr)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
