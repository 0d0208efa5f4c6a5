package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGuardRefusesRebindingAndCrossSite(t *testing.T) {
	s, _ := fixture()
	s.Control = nil
	h := s.Handler()
	send := func(method, host, origin, ctype, body string) int {
		req := httptest.NewRequest(method, "/api/v1/requests", strings.NewReader(body))
		req.Host = host
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	for _, c := range []struct {
		name                              string
		method, host, origin, ctype, body string
		want                              int
	}{
		{"loopback", "GET", "127.0.0.1:9901", "", "", "", 200},
		{"localhost", "GET", "localhost:9901", "", "", "", 200},
		{"ipv6 loopback", "GET", "[::1]:9901", "", "", "", 200},
		{"configured name", "GET", "example.com", "", "", "", 200},
		{"rebinding name", "GET", "rebind.evil.example:9901", "", "", "", 421},
		{"foreign ip", "GET", "192.0.2.1:9901", "", "", "", 421},
		{"foreign origin", "POST", "127.0.0.1:9901", "http://evil.example", "application/json", "{}", 403},
		{"null origin", "DELETE", "127.0.0.1:9901", "null", "", "", 403},
		{"text/plain body", "POST", "127.0.0.1:9901", "", "text/plain", "{}", 415},
		{"form body", "POST", "127.0.0.1:9901", "", "application/x-www-form-urlencoded", "a=b", 415},
		// Past the guard, the mux answers 404 (no POST route here).
		{"same origin json", "POST", "127.0.0.1:9901", "http://127.0.0.1:9901", "application/json; charset=utf-8", "{}", 404},
		{"no body", "POST", "127.0.0.1:9901", "", "", "", 404},
	} {
		if got := send(c.method, c.host, c.origin, c.ctype, c.body); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

func TestPprofOptInAndBounded(t *testing.T) {
	s, _ := fixture()
	s.Pprof = false
	if code, _ := get(t, s.Handler(), "/debug/pprof/goroutine?debug=1", ""); code != http.StatusNotFound {
		t.Errorf("pprof off: %d, want 404", code)
	}
	s.Pprof = true
	if code, _ := get(t, s.Handler(), "/debug/pprof/profile?seconds=3600", ""); code != http.StatusBadRequest {
		t.Errorf("seconds=3600: %d, want 400", code)
	}
	if code, _ := get(t, s.Handler(), "/debug/pprof/trace?seconds=x", ""); code != http.StatusBadRequest {
		t.Errorf("seconds=x: %d, want 400", code)
	}
}
