package http1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name, in    string
		status      int // 0: accepted
		cl          int64
		chunked     bool
		host        string
		close, exp  bool
		headerCount int
	}{
		{name: "GET", in: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", cl: -1, host: "a", headerCount: 1},
		{name: "leading CRLF", in: "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", cl: -1, host: "a", headerCount: 1},
		{name: "bare LF", in: "GET / HTTP/1.1\nHost: a\n\n", cl: -1, host: "a", headerCount: 1},
		{name: "POST CL", in: "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", cl: 5, host: "a", headerCount: 2},
		{name: "same CL twice", in: "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", cl: 5, host: "a", headerCount: 3},
		{name: "different CL", in: "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", status: 400},
		{name: "bad CL", in: "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", status: 400},
		{name: "CL overflow", in: "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", status: 400},
		{name: "chunked", in: "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", cl: -1, chunked: true, host: "a", headerCount: 2},
		{name: "TE and CL", in: "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", cl: -1, chunked: true, host: "a", close: true, headerCount: 3},
		{name: "chunked twice", in: "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", status: 400},
		{name: "chunked not last", in: "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", status: 501},
		{name: "chunked twice around gzip", in: "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip, chunked\r\n\r\n", status: 400},
		{name: "gzip without chunked", in: "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", status: 501},
		{name: "gzip, chunked", in: "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", cl: -1, chunked: true, host: "a", headerCount: 2},
		{name: "codings in fields", in: "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip ;\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked;p\r\n\r\n", cl: -1, chunked: true, host: "a", headerCount: 4},
		{name: "unknown before chunked", in: "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo, chunked\r\n\r\n", status: 501},
		{name: "unknown TE", in: "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo\r\n\r\n", status: 501},
		{name: "no Host", in: "GET / HTTP/1.1\r\n\r\n", status: 400},
		{name: "two Host", in: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400},
		{name: "1.0 no Host", in: "GET / HTTP/1.0\r\n\r\n", cl: -1, close: true},
		{name: "absolute form", in: "GET http://b.example:8080/p?q HTTP/1.1\r\nHost: a\r\n\r\n", cl: -1, host: "b.example:8080", headerCount: 1},
		{name: "expect", in: "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", cl: 1, host: "a", exp: true, headerCount: 3},
		{name: "expect 1.0", in: "PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", cl: 1, close: true, headerCount: 2},
		{name: "connection close", in: "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n", cl: -1, host: "a", close: true, headerCount: 2},
		{name: "obs-fold", in: "GET / HTTP/1.1\r\nHost: a\r\nX: one\r\n two\r\n\r\n", cl: -1, host: "a", headerCount: 2},
		{name: "HTTP/2.0", in: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", status: 505},
		{name: "bad version", in: "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", status: 400},
		{name: "bad method", in: "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "no colon", in: "GET / HTTP/1.1\r\nHost a\r\n\r\n", status: 400},
		{name: "NUL in value", in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", status: 400},
		{name: "CR in value", in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", status: 400},
		// Control bytes but NUL and CR are left to the classifier
		// (AmbiguousUri) and the desync mitigation mode.
		{name: "CTL in target", in: "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", cl: -1, host: "a", headerCount: 1},
		{name: "tab in target", in: "GET /a\tHTTP/1.1 HTTP/1.1\r\nHost: a\r\n\r\n", cl: -1, host: "a", headerCount: 1},
		{name: "NUL in target", in: "GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "CR in target", in: "GET /\ra HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		// Empty field names are kept for the classifier (EmptyHeader).
		{name: "empty name", in: "POST / HTTP/1.1\r\nHost: a\r\n: chunked\r\nContent-Length: 2\r\n\r\nhi", cl: 2, host: "a", headerCount: 3},
		{name: "name starts with colon", in: "POST / HTTP/1.1\r\nHost: a\r\n:X:Transfer-Encoding:: chunked\r\n\r\n", cl: -1, host: "a", headerCount: 2},
		{name: "relative target", in: "GET foo HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r Request
			n, err := Parse([]byte(c.in), &r, Limits{})
			if c.status != 0 {
				var e *Error
				if !errors.As(err, &e) || e.Status() != c.status {
					t.Fatalf("err = %v, want status %d", err, c.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if body := c.in[n:]; len(body) != 0 && int64(len(body)) != c.cl {
				t.Errorf("head length %d leaves %q", n, body)
			}
			if r.ContentLength != c.cl || r.Chunked != c.chunked || string(r.Host) != c.host ||
				r.Close != c.close || r.Expect100 != c.exp || len(r.Headers) != c.headerCount {
				t.Errorf("got cl=%d chunked=%v host=%q close=%v expect=%v headers=%d", r.ContentLength, r.Chunked, r.Host, r.Close, r.Expect100, len(r.Headers))
			}
		})
	}
}

func TestParseObsFoldValue(t *testing.T) {
	var r Request
	if _, err := Parse([]byte("GET / HTTP/1.1\r\nX: one\r\n\ttwo\r\nHost: a\r\n\r\n"), &r, Limits{}); err != nil {
		t.Fatal(err)
	}
	if got := string(r.Headers[0].Value); got != "one   two" {
		t.Errorf("folded value %q", got)
	}
}

func TestParseIncremental(t *testing.T) {
	in := []byte("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhiGET /b HTTP/1.1\r\nHost: a\r\n\r\n")
	var r Request
	for i := 0; i < 45; i++ {
		if _, err := Parse(append([]byte(nil), in[:i]...), &r, Limits{}); err != ErrIncomplete {
			t.Fatalf("prefix %d: %v, want ErrIncomplete", i, err)
		}
	}
	n, err := Parse(in, &r, Limits{})
	if err != nil || string(r.Target) != "/a" {
		t.Fatalf("first: %v %q", err, r.Target)
	}
	n += int(r.ContentLength)
	if _, err := Parse(in[n:], &r, Limits{}); err != nil || string(r.Target) != "/b" {
		t.Fatalf("pipelined: %v %q", err, r.Target)
	}
}

func TestParseLimits(t *testing.T) {
	lim := Limits{MaxHeaderBytes: 100, MaxHeaders: 2, MaxURIBytes: 10}
	for in, want := range map[string]int{
		"GET /0123456789a HTTP/1.1\r\nHost: a\r\n\r\n":                              414,
		"GET /0123456789aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":                     414,
		"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n":                         431,
		"GET / HTTP/1.1\r\nHost: a\r\nA: " + string(bytes.Repeat([]byte("x"), 100)): 431,
	} {
		var r Request
		_, err := Parse([]byte(in), &r, lim)
		var e *Error
		if !errors.As(err, &e) || e.Status() != want {
			t.Errorf("%q: %v, want %d", in, err, want)
		}
	}
}

func TestParseClassifies(t *testing.T) {
	var r Request
	if _, err := Parse([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"), &r, Limits{}); err != nil {
		t.Fatal(err)
	}
	if v := r.Classify(); v.Tier.String() != "Ambiguous" || v.Reason.String() != "BothTeClPresent" {
		t.Errorf("verdict %s/%s", v.Tier, v.Reason)
	}
}

// TestParseClassifiesRefused: a field the parser refuses (NUL in its
// value) is still in Headers, so the verdict logged with the 400 names
// it; an empty field name is classified EmptyHeader; codings before
// chunked are Compliant and listed by AppendCodings.
func TestParseClassifiesRefused(t *testing.T) {
	for _, c := range []struct{ in, tier, reason string }{
		{"POST / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", "Severe", "BadHeader"},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x00chunked\r\n\r\n", "Severe", "BadHeader"},
		{"POST / HTTP/1.1\r\nHost: a\r\n: chunked\r\nContent-Length: 2\r\n\r\n", "Ambiguous", "EmptyHeader"},
		{"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", "Ambiguous", "AmbiguousUri"},
		{"GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n", "Severe", "BadUri"},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, deflate, chunked\r\n\r\n", "Compliant", "Compliant"},
	} {
		var r Request
		_, _ = Parse([]byte(c.in), &r, Limits{})
		if v := r.Classify(); v.Tier.String() != c.tier || v.Reason.String() != c.reason {
			t.Errorf("%q: verdict %s/%s, want %s/%s", c.in, v.Tier, v.Reason, c.tier, c.reason)
		}
	}
	var r Request
	in := "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip ; q, x-gzip\r\nTransfer-Encoding: identity, deflate\r\nTransfer-Encoding: chunked\r\n\r\n"
	if _, err := Parse([]byte(in), &r, Limits{}); err != nil {
		t.Fatal(err)
	}
	if got := string(r.AppendCodings(nil)); !r.Codings || got != "gzip, x-gzip, deflate" {
		t.Errorf("codings %v %q", r.Codings, got)
	}
	if _, err := Parse([]byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\n\r\n"), &r, Limits{}); err != nil || r.Codings || !r.Chunked {
		t.Errorf("identity, chunked: %v codings %v chunked %v", err, r.Codings, r.Chunked)
	}
}

func TestParseAllocs(t *testing.T) {
	in := []byte("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nUser-Agent: b\r\n\r\nhello")
	var r Request
	if n := testing.AllocsPerRun(100, func() { _, _ = Parse(in, &r, Limits{}) }); n != 0 {
		t.Errorf("Parse allocates %v times", n)
	}
}

var (
	benchGET  = []byte("GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n")
	benchPOST = []byte("POST /api/v1/items HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench/1.0\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"a\":1,\"b\":2,\"\"}")
)

func benchParse(b *testing.B, in []byte) {
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Parse(in, &r, Limits{}); err != nil {
			b.Fatal(err)
		}
		r.Classify()
	}
}

func BenchmarkParseGET(b *testing.B)  { benchParse(b, benchGET) }
func BenchmarkParsePOST(b *testing.B) { benchParse(b, benchPOST) }

// FuzzParseRequest checks that Parse never panics and, for heads both it
// and net/http accept, that both see the same method, target, fields and
// body length.
func FuzzParseRequest(f *testing.F) {
	f.Add(benchGET)
	f.Add(benchPOST)
	f.Add([]byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var r Request
		buf := append([]byte(nil), in...)
		n, err := Parse(buf, &r, Limits{})
		if err != nil {
			return
		}
		if n > len(in) {
			t.Fatalf("n %d > len %d", n, len(in))
		}
		if bytes.IndexByte(in[:n], ' ') >= 0 && bytes.Contains(in[:n], []byte("\n ")) || bytes.Contains(in[:n], []byte("\n\t")) {
			return // obs-fold: net/http rejects or differs
		}
		if r.Chunked && r.Minor == 0 {
			return // RFC 9112 §6.1: we decode and close; net/http ignores TE in 1.0
		}
		hr, herr := http.ReadRequest(bufio.NewReader(bytes.NewReader(in)))
		if herr != nil {
			return
		}
		defer hr.Body.Close()
		if hr.Method != string(r.Method) || hr.RequestURI != string(r.Target) {
			t.Fatalf("line: net/http %q %q, ours %q %q", hr.Method, hr.RequestURI, r.Method, r.Target)
		}
		if r.Chunked != (len(hr.TransferEncoding) > 0) {
			t.Fatalf("chunked: net/http %v, ours %v", hr.TransferEncoding, r.Chunked)
		}
		if !r.Chunked && r.ContentLength >= 0 && hr.ContentLength != r.ContentLength {
			t.Fatalf("Content-Length: net/http %d, ours %d", hr.ContentLength, r.ContentLength)
		}
		if !r.Chunked && r.ContentLength > 0 && int64(len(in)-n) >= r.ContentLength {
			body, _ := io.ReadAll(hr.Body)
			if !bytes.Equal(body, in[n:n+int(r.ContentLength)]) {
				t.Fatalf("body: net/http %q, ours %q", body, in[n:n+int(r.ContentLength)])
			}
		}
		for _, h := range r.Headers {
			k := http.CanonicalHeaderKey(string(h.Name))
			if k == "Host" || k == "Transfer-Encoding" || k == "Content-Length" {
				continue
			}
			found := false
			for _, v := range hr.Header[k] {
				if v == string(h.Value) {
					found = true
				}
			}
			if !found {
				t.Fatalf("field %q: ours %q, net/http %q", h.Name, h.Value, hr.Header[k])
			}
		}
	})
}

// TestParseManyFields: a head with more fields than a Request holds inline
// parses whole, and the next small head costs no allocation again.
func TestParseManyFields(t *testing.T) {
	var b strings.Builder
	b.WriteString("GET / HTTP/1.1\r\nHost: a\r\n")
	for i := range MaxHeaders - 1 {
		fmt.Fprintf(&b, "X-F%d: %d\r\n", i, i)
	}
	b.WriteString("\r\n")
	var r Request
	if _, err := Parse([]byte(b.String()), &r, Limits{}); err != nil || len(r.Headers) != MaxHeaders {
		t.Fatalf("%d fields: %v, got %d", MaxHeaders, err, len(r.Headers))
	}
	if string(r.Headers[MaxHeaders-1].Name) != fmt.Sprintf("X-F%d", MaxHeaders-2) {
		t.Errorf("last field %q", r.Headers[MaxHeaders-1].Name)
	}
	small := []byte("GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n")
	if n := testing.AllocsPerRun(50, func() { Parse(small, &r, Limits{}) }); n != 0 {
		t.Errorf("small head after a large one: %v allocations", n)
	}
}
