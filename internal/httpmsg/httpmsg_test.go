package httpmsg

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHeader(t *testing.T) {
	h := Header{{"Accept", "a"}, {"X-Multi", "1"}, {"x-multi", "2"}, {"Cookie", `a=1; sid="xyz"; b=2`}, {"Connection", "keep-alive, Upgrade"}}
	if h.Get("ACCEPT") != "a" || h.Get("missing") != "" || !h.Has("x-MULTI") || h.Has("nope") {
		t.Errorf("Get/Has on %v", h)
	}
	if got := h.Values("X-Multi"); !cmp.Equal(got, []string{"1", "2"}) {
		t.Errorf("Values %q", got)
	}
	if h.Values("none") != nil {
		t.Error("Values of a missing field is not nil")
	}
	if !h.HasToken("connection", "upgrade") || h.HasToken("Connection", "close") {
		t.Error("HasToken")
	}
	for name, want := range map[string]string{"a": "1", "sid": "xyz", "b": "2"} {
		if v, ok := h.Cookie(name); !ok || v != want {
			t.Errorf("Cookie(%s) = %q %v, want %q", name, v, ok, want)
		}
	}
	if _, ok := h.Cookie("A"); ok {
		t.Error("cookie names compare exactly")
	}
	h.Set("x-multi", "3")
	if got := h.Values("X-Multi"); !cmp.Equal(got, []string{"3"}) {
		t.Errorf("after Set: %q", got)
	}
	h.Set("New", "n")
	if h[len(h)-1] != (Field{"New", "n"}) {
		t.Errorf("Set of a new field did not append: %v", h)
	}
	h.Del("accept")
	if h.Has("Accept") || len(h) != 4 {
		t.Errorf("after Del: %v", h)
	}
	h.DelFunc(func(f Field) bool { return strings.HasPrefix(f.Name, "C") })
	if !cmp.Equal(h, Header{{"X-Multi", "3"}, {"New", "n"}}) {
		t.Errorf("after DelFunc: %v", h)
	}
	if n := h.Size(); n != int64(len("X-Multi: 3\r\nNew: n\r\n")) {
		t.Errorf("Size %d", n)
	}
}

func TestSetTarget(t *testing.T) {
	cases := []struct {
		method, target               string
		uri, path, rawPath, rawQuery string
		err                          bool
	}{
		{"GET", "/a/b?x=1&y", "/a/b?x=1&y", "/a/b", "/a/b", "x=1&y", false},
		{"GET", "/a%20b?q", "/a%20b?q", "/a b", "/a%20b", "q", false},
		{"GET", "http://h.example/p?q=1", "/p?q=1", "/p", "/p", "q=1", false},
		{"GET", "http://h.example", "/", "", "", "", false},
		{"OPTIONS", "*", "*", "*", "*", "", false},
		{"CONNECT", "h.example:443", "h.example:443", "", "", "", false},
		{"GET", "//x/y", "//x/y", "//x/y", "//x/y", "", false},
		{"GET", "/bad%zz", "", "", "", "", true},
		{"GET", "relative", "", "", "", "", true},
	}
	for _, c := range cases {
		var r Request
		err := r.SetTarget(c.method, c.target)
		if (err != nil) != c.err {
			t.Errorf("%s %s: err %v", c.method, c.target, err)
			continue
		}
		if err != nil {
			continue
		}
		got := [4]string{r.URI, r.Path, r.RawPath, r.RawQuery}
		if want := [4]string{c.uri, c.path, c.rawPath, c.rawQuery}; got != want || r.Target != c.target {
			t.Errorf("%s %s: got %q, want %q", c.method, c.target, got, want)
		}
	}
	var r Request
	if n := testing.AllocsPerRun(100, func() { r.SetTarget("GET", "/api/v1/items?page=2") }); n != 0 {
		t.Errorf("plain target: %v allocations", n)
	}
}

// TestSetTargetMatchesNetURL: for origin-form targets, the split without
// net/url gives what net/url gives.
func TestSetTargetMatchesNetURL(t *testing.T) {
	for _, target := range []string{"/", "/a", "/a?b", "/a?b?c", "/a;p=1?x", "/~user/x.html", "/a+b", "/!$&'()*+,;=:@", "/a?"} {
		var r Request
		if err := r.SetTarget("GET", target); err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		hr := httptest.NewRequest("GET", target, nil)
		want := [4]string{hr.URL.RequestURI(), hr.URL.Path, hr.URL.EscapedPath(), hr.URL.RawQuery}
		if got := [4]string{r.URI, r.Path, r.RawPath, r.RawQuery}; got != want {
			t.Errorf("%s: got %q, net/url %q", target, got, want)
		}
	}
}

func TestFromHTTP(t *testing.T) {
	hr := httptest.NewRequest("POST", "https://h.example/p%2Fq?x=1", strings.NewReader("body"))
	hr.Header.Set("Content-Length", "4")
	hr.Header.Set("Transfer-Encoding", "chunked")
	hr.Header.Set("Host", "evil")
	hr.Header.Add("X-A", "1")
	hr.Header.Add("X-A", "2")
	hr.RemoteAddr = "192.0.2.1:5"
	var r Request
	FromHTTP(&r, hr)
	if r.Method != "POST" || r.Host != "h.example" || r.URI != "/p%2Fq?x=1" || r.Path != "/p/q" || r.RawPath != "/p%2Fq" ||
		r.RemoteAddr != "192.0.2.1:5" || r.TLS == nil || r.Body == nil || r.ContentLength != 4 || r.Context() != hr.Context() {
		t.Errorf("request %+v", r)
	}
	if r.Header.Has("Content-Length") || r.Header.Has("Transfer-Encoding") || r.Header.Has("Host") {
		t.Errorf("framing or Host kept: %v", r.Header)
	}
	if got := r.Header.Values("X-A"); !cmp.Equal(got, []string{"1", "2"}) {
		t.Errorf("X-A %q", got)
	}
	get := httptest.NewRequest("GET", "/", http.NoBody)
	FromHTTP(&r, get)
	if r.Body != nil || r.ContentLength != 0 {
		t.Errorf("no body: %v %d", r.Body, r.ContentLength)
	}
	if r.Size() != int64(len("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")) {
		t.Errorf("Size %d", r.Size())
	}
}

func TestContextNeverNil(t *testing.T) {
	var r Request
	if r.Context() == nil {
		t.Fatal("nil context")
	}
}
