package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/http1"
)

// targetBytes returns a backendConn on a real loopback socket whose peer
// writes raw, in pieces of at most chunk bytes, then closes.
func targetBytes(t *testing.T, raw string, chunk int) *backendConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for b := []byte(raw); len(b) > 0; {
			n := min(chunk, len(b))
			if _, err := c.Write(b[:n]); err != nil {
				return
			}
			b = b[n:]
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	bc := newBackendConn(c, nil)
	bc.lim.n = headerLimit
	return bc
}

func TestReadResponse(t *testing.T) {
	big := strings.Repeat("x", 5000) // past the 4 KiB read buffer
	cases := []struct {
		name, method, raw string
		status            int
		header            http.Header
		body              string
		trailer           http.Header
		cl                int64
		close             bool
		err               error // errors.Is target, or nil
	}{
		{name: "sized", raw: "HTTP/1.1 200 OK\r\nContent-Length: 6\r\ncontent-type: text/plain\r\n\r\nhello\n",
			status: 200, header: http.Header{"Content-Length": {"6"}, "Content-Type": {"text/plain"}}, body: "hello\n", cl: 6},
		{name: "chunked with trailers", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum, x-late\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\nX-Extra: 1\r\n\r\n",
			status: 200, header: http.Header{}, body: "abcde", cl: -1,
			trailer: http.Header{"X-Sum": {"5"}, "X-Late": nil, "X-Extra": {"1"}}},
		{name: "TE and CL: TE wins", raw: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n",
			status: 200, header: http.Header{}, body: "z", cl: -1, close: true},
		{name: "until close", raw: "HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nall of it",
			status: 200, header: http.Header{"X-A": {"1"}}, body: "all of it", cl: -1, close: true},
		{name: "HEAD keeps its length", method: "HEAD", raw: "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n",
			status: 200, header: http.Header{"Content-Length": {"42"}}, cl: 42},
		{name: "304 has no body", raw: "HTTP/1.1 304 Not Modified\r\nEtag: \"a\"\r\n\r\n",
			status: 304, header: http.Header{"Etag": {`"a"`}}, cl: 0},
		{name: "head past the read buffer", raw: "HTTP/1.1 200 OK\r\nX-Big: " + big + "\r\nContent-Length: 2\r\n\r\nok",
			status: 200, header: http.Header{"X-Big": {big}, "Content-Length": {"2"}}, body: "ok", cl: 2},
		{name: "repeated fields", raw: "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n",
			status: 200, header: http.Header{"Set-Cookie": {"a=1", "b=2"}, "Content-Length": {"0"}}, cl: 0},
		{name: "closed inside the head", raw: "HTTP/1.1 200 OK\r\nX-A:", err: io.ErrUnexpectedEOF},
		{name: "closed before the head", raw: "", err: io.EOF},
		{name: "closed inside a sized body", raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
			status: 200, header: http.Header{"Content-Length": {"10"}}, body: "short", cl: 10, err: io.ErrUnexpectedEOF},
		{name: "closed inside a chunked body", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
			status: 200, header: http.Header{}, body: "ab", cl: -1, err: io.ErrUnexpectedEOF},
		{name: "head over 32 KiB", raw: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("y", 40<<10) + "\r\n\r\n", err: failure.ErrHeaderTooLarge},
	}
	for _, c := range cases {
		for _, piece := range []int{1 << 20, 7} {
			c, piece := c, piece
			t.Run(c.name, func(t *testing.T) {
				bc := targetBytes(t, c.raw, piece)
				method := c.method
				if method == "" {
					method = "GET"
				}
				var x exchange
				resp, err := readResponse(bc, method, &x)
				if err != nil {
					if c.err == nil || !errors.Is(err, c.err) {
						t.Fatalf("head: %v, want %v", err, c.err)
					}
					return
				}
				if resp.StatusCode != c.status || resp.ContentLength != c.cl || resp.Close != c.close {
					t.Errorf("status %d, length %d, close %v; want %d, %d, %v", resp.StatusCode, resp.ContentLength, resp.Close, c.status, c.cl, c.close)
				}
				if d := cmp.Diff(c.header, x.header()); d != "" {
					t.Errorf("header (-want +got):\n%s", d)
				}
				body, err := io.ReadAll(&x.body)
				if string(body) != c.body {
					t.Errorf("body %q, want %q", body, c.body)
				}
				if c.err != nil {
					if !errors.Is(err, c.err) {
						t.Errorf("body error %v, want %v", err, c.err)
					}
					return
				}
				if err != nil {
					t.Errorf("body: %v", err)
				}
				if d := cmp.Diff(c.trailer, resp.Trailer); d != "" {
					t.Errorf("trailer (-want +got):\n%s", d)
				}
			})
		}
	}
}

func TestReadResponseMalformed(t *testing.T) {
	for _, raw := range []string{
		"HTTP/1.1 200 OK\r\nX-Debug Info: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: a\x01\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"SSH-2.0-OpenSSH_9.6\r\n\r\n",
	} {
		var x exchange
		_, err := readResponse(targetBytes(t, raw, 1<<20), "GET", &x)
		var pe *http1.Error
		if !errors.As(err, &pe) {
			t.Errorf("%q: %v, want an *http1.Error", raw, err)
			continue
		}
		ae := &failure.AttemptError{Phase: failure.PhaseAwaitHeaders, Err: err}
		if got := failure.Classify(ae).Type; got != failure.HTTPProtocolError {
			t.Errorf("%q: classified %v, want http_protocol_error", raw, got)
		}
	}
}

// TestReadResponseReuse reads two responses from one connection: the
// second head starts exactly where the first body ended.
func TestReadResponseReuse(t *testing.T) {
	bc := targetBytes(t, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"+
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n"+
		"HTTP/1.1 204 No Content\r\n\r\n", 5)
	var x exchange
	for _, want := range []string{"one", "two", ""} {
		if _, err := readResponse(bc, "GET", &x); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(&x.body)
		if err != nil || string(b) != want {
			t.Fatalf("body %q %v, want %q", b, err, want)
		}
	}
	if bc.br.Buffered() != 0 {
		t.Errorf("%d bytes left", bc.br.Buffered())
	}
}

// TestReadResponseHeadBuffer reads heads through a connection's reused
// head buffer (attemptSpace.head): each head's fields are its own, the
// buffer is reused rather than reallocated, and a head longer than
// maxReusedHead gets a string of its own and leaves the buffer as it
// was.
func TestReadResponseHeadBuffer(t *testing.T) {
	big := strings.Repeat("b", maxReusedHead)
	bc := targetBytes(t, "HTTP/1.1 200 OK\r\nX-N: first\r\nContent-Length: 0\r\n\r\n"+
		"HTTP/1.1 200 OK\r\nX-Big: "+big+"\r\nContent-Length: 0\r\n\r\n"+
		"HTTP/1.1 201 Created\r\nX-N: 2\r\nContent-Length: 0\r\n\r\n", 7)
	var space attemptSpace
	var kept []byte
	for i, want := range []struct{ name, value string }{{"X-N", "first"}, {"X-Big", big}, {"X-N", "2"}} {
		x := &space.x
		*x = exchange{head: &space.head}
		if _, err := readResponse(bc, "GET", x); err != nil {
			t.Fatal(err)
		}
		if got := x.headerValue(want.name); got != want.value {
			t.Fatalf("head %d: %s = %.20q, want %.20q", i, want.name, got, want.value)
		}
		switch i {
		case 0:
			kept = space.head
			if len(kept) == 0 {
				t.Fatal("the first head was not copied into the connection's buffer")
			}
		case 1:
			if &space.head[0] != &kept[0] || len(space.head) != len(kept) {
				t.Error("a head over maxReusedHead went into the reused buffer")
			}
		case 2:
			if &space.head[0] != &kept[0] {
				t.Error("the buffer was reallocated for a head that fits")
			}
			if got := x.respv.Status; got != "201 Created" {
				t.Errorf("Status = %q, want 201 Created", got)
			}
		}
	}
}

func BenchmarkReadResponse(b *testing.B) {
	raw := "HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Wed, 02 Dec 2026 19:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: keep-alive\r\n\r\nhello\n"
	r := strings.NewReader("")
	bc := &backendConn{br: bufio.NewReaderSize(r, 4096)}
	var x exchange
	buf := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(raw)
		bc.br.Reset(r)
		readResponse(bc, "GET", &x)
		x.body.Read(buf)
	}
}
