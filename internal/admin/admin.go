// Package admin serves Fulcrum's admin interface: Prometheus metrics, the
// JSON API (/api/v1/...), HAProxy-style stats (/stats?format=csv), Go
// profiles (/debug/pprof/), and
// HAProxy's runtime API text commands on a Unix socket. It reads the
// running target groups and the request history. It changes routing only
// through its Controller (register, deregister, reload) and the runtime
// API's server state commands.
//
// On a non-loopback address every HTTP request needs "Authorization:
// Bearer TOKEN" (the config refuses to start without admin.token_file).
// Errors are JSON: {"error": "...", "detail": "..."}.
package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/cluster"
	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/discovery"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Server is the admin server. Set the fields, then Listen and Serve.
type Server struct {
	// Address is the TCP host:port to listen on.
	Address string
	// Token, when not empty, is required as a bearer token on every HTTP
	// request.
	Token string
	// Socket, when not empty, is the Unix socket path for the runtime API.
	Socket string
	// SocketMode is the socket file's mode; 0 means 0660.
	SocketMode fs.FileMode
	// AllowedHosts are extra Host names the HTTP server answers to
	// (admin.allowed_hosts); see guard.
	AllowedHosts []string
	// Pprof serves /debug/pprof/ (admin.pprof).
	Pprof bool
	// Gatherer serves /metrics; nil means no /metrics.
	Gatherer prometheus.Gatherer
	// Groups returns the running target groups, in configuration order.
	Groups func() []*target.Group
	// History holds recent requests; nil answers 404 for every id.
	History *accesslog.History
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Control, when set, serves the endpoints that change the running
	// configuration: register and deregister targets, reload, and
	// /api/v1/config.
	Control Controller
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Queues, when set, returns how many requests wait in each target
	// group's queue now (show stat qcur on BACKEND rows).
	Queues func() map[string]int64
	// QueueMax, when set, returns the most requests that waited at once
	// in each target group's queue (show stat qmax on BACKEND rows).
	QueueMax func() map[string]int64
	// Frontends, when set, returns each listener's client connections,
	// the FRONTEND rows of show stat.
	Frontends func() []Frontend
	// Discovery, when set, returns a target group's discovery providers'
	// states (the discovery list of the target group view).
	Discovery func(group string) []discovery.Status
	// AdminStateChanged, when set, is told of every admin state set
	// through the runtime socket, to share it with the fleet.
	AdminStateChanged func(group, address string, state target.AdminState)
	// Fleet, when set, returns the fleet view (GET /api/v1/fleet), nil
	// without a cluster section.
	Fleet func() *cluster.Fleet
	// Version and Started answer show info; a zero Started omits the
	// uptime.
	Version string
	Started time.Time

	ln     net.Listener
	sockLn net.Listener
}

// ReadToken reads a bearer token file: its content without surrounding
// white space, which must not be empty.
func ReadToken(path string) (string, error) {
	b, err := config.ReadLimited(path, config.MaxTokenFile)
	if err != nil {
		return "", fmt.Errorf("admin.token_file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("admin.token_file: %s is empty", path)
	}
	return tok, nil
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Listen binds the TCP address and, when set, the Unix socket with
// SocketMode. A stale socket file at the path is replaced; anything else
// there is an error (config.CheckSocketPath).
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.Address)
	if err != nil {
		return fmt.Errorf("admin.address: %w", err)
	}
	s.ln = ln
	if s.Socket != "" {
		if err := config.CheckSocketPath(s.Socket); err != nil {
			ln.Close()
			return fmt.Errorf("admin.socket: %w", err)
		}
		os.Remove(s.Socket) // a stale socket: CheckSocketPath allows nothing else
		sl, err := net.Listen("unix", s.Socket)
		if err != nil {
			ln.Close()
			return fmt.Errorf("admin.socket: %w", err)
		}
		mode := s.SocketMode
		if mode == 0 {
			mode = 0o660
		}
		if err := os.Chmod(s.Socket, mode); err != nil {
			sl.Close()
			ln.Close()
			return fmt.Errorf("admin.socket: %w", err)
		}
		s.sockLn = sl
	}
	return nil
}

// Close releases what Listen bound, for when Serve will not run.
func (s *Server) Close() {
	if s.ln != nil {
		s.ln.Close()
	}
	if s.sockLn != nil {
		s.sockLn.Close()
		os.Remove(s.Socket)
	}
}

// Addr returns the bound TCP address, after Listen.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve answers until ctx is done, then closes both listeners, waits for
// the handlers and removes the socket file. It returns nil then.
func (s *Server) Serve(ctx context.Context) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() {
		if err := srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("admin: %w", err)
		}
	})
	if s.sockLn != nil {
		wg.Go(func() { s.serveRuntime(ctx, s.sockLn) })
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if s.sockLn != nil {
		s.sockLn.Close()
	}
	wg.Wait()
	if s.Socket != "" {
		os.Remove(s.Socket)
	}
	return err
}

// Handler returns the HTTP handler with every route, behind the bearer
// token check when a token is set.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	if s.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /api/v1/target-groups", s.listTargetGroups)
	mux.HandleFunc("GET /api/v1/target-groups/{name}", s.getTargetGroup)
	mux.HandleFunc("GET /api/v1/requests", s.listRequests)
	mux.HandleFunc("GET /api/v1/requests/{id}", s.getRequest)
	mux.HandleFunc("GET /stats", s.stats)
	mux.HandleFunc("GET /api/v1/fleet", s.fleet) // fleet.go
	if s.Control != nil {
		mux.HandleFunc("POST /api/v1/target-groups/{name}/targets", s.registerTarget)
		mux.HandleFunc("DELETE /api/v1/target-groups/{name}/targets/{address}", s.deregisterTarget)
		mux.HandleFunc("POST /api/v1/reload", s.reload)
		mux.HandleFunc("GET /api/v1/config", s.getConfig)
	}
	// Go profiles, for docs/performance.md and for operators chasing CPU,
	// only when admin.pprof is on.
	if s.Pprof {
		registerPprof(mux)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found", r.Method+" "+r.URL.Path+" is not an admin endpoint")
	})
	if s.Token == "" {
		return s.guard(mux)
	}
	want := []byte("Bearer " + s.Token)
	return s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fulcrum"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <token from admin.token_file>")
			return
		}
		mux.ServeHTTP(w, r)
	}))
}

// apiError is the body of every error answer.
type apiError struct {
	Error  string `json:"error"`
	Detail string `json:"detail,omitempty"`
}

func writeError(w http.ResponseWriter, status int, msg, detail string) {
	writeJSON(w, status, apiError{Error: msg, Detail: detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Server) group(name string) *target.Group {
	for _, g := range s.Groups() {
		if g.Name == name {
			return g
		}
	}
	return nil
}
