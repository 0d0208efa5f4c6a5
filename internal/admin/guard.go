package admin

import (
	"mime"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strconv"
	"strings"
)

// maxProfileSeconds bounds the seconds parameter of /debug/pprof/profile
// and /debug/pprof/trace: one request cannot keep the profiler (and a
// goroutine) busy for longer.
const maxProfileSeconds = 60

// guard refuses what a web page could make a browser send to the admin
// server: a Host header that names none of the admin's own addresses (DNS
// rebinding) is answered 421; a state-changing request (POST, PUT, PATCH,
// DELETE) with a foreign Origin, or with a body that is not
// application/json (a cross-site "simple request" such as a text/plain
// form post), is answered 403 or 415. These follow the OWASP CSRF
// Prevention Cheat Sheet ("Verifying Origin with standard headers") and
// the Fetch standard's CORS-safelisted request headers.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r.Host) {
			writeError(w, http.StatusMisdirectedRequest, "host not allowed",
				"Host "+strconv.Quote(r.Host)+" is not an address of this admin server; add it to admin.allowed_hosts")
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if o == "null" || err != nil || !strings.EqualFold(u.Host, r.Host) {
				writeError(w, http.StatusForbidden, "cross-origin request refused",
					"Origin "+strconv.Quote(o)+" is not this admin server; the admin API takes no requests from web pages")
				return
			}
		}
		if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				writeError(w, http.StatusUnsupportedMediaType, "unsupported media type",
					"a request with a body must send Content-Type: application/json")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether host (a Host header) names this admin
// server: empty (HTTP/1.0), localhost, a loopback IP, the IP it listens
// on, any IP when it listens on all addresses, or a name in AllowedHosts
// (with or without the port). A host name a page's DNS could point here
// is refused unless it is configured.
func (s *Server) hostAllowed(host string) bool {
	if host == "" {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.Trim(name, "[]"), ".")
	for _, a := range s.AllowedHosts {
		if strings.EqualFold(a, host) || strings.EqualFold(a, name) {
			return true
		}
	}
	if strings.EqualFold(name, "localhost") {
		return true
	}
	ip := net.ParseIP(name)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	if s.ln == nil {
		return false
	}
	bound, ok := s.ln.Addr().(*net.TCPAddr)
	return ok && (bound.IP.IsUnspecified() || bound.IP.Equal(ip))
}

// profileHandler serves a pprof handler whose seconds parameter must be
// 1..maxProfileSeconds.
func profileHandler(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("seconds"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxProfileSeconds {
				writeError(w, http.StatusBadRequest, "bad seconds", "seconds must be an integer in 1..60, got "+strconv.Quote(v))
				return
			}
		}
		h(w, r)
	}
}

// registerPprof adds Go's profiles under /debug/pprof/ (admin.pprof).
func registerPprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", profileHandler(pprof.Profile))
	mux.HandleFunc("GET /debug/pprof/trace", profileHandler(pprof.Trace))
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
}
