//go:build linux

package evloop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// server is what both layers offer the tests.
type server interface {
	Addr() string
	Close() error
	Stats() Stats
	Pauses() uint64
}

var layers = []string{"epoll", "gnet"}

func start(t *testing.T, layer string, cfg Config) server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	var s server
	var err error
	switch layer {
	case "epoll":
		s, err = StartEpoll(cfg)
	case "gnet":
		s, err = StartGnet(cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// target answers with what the proxy sent it.
func target(t *testing.T) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/64k":
			w.Header().Set("Content-Length", "65536")
			_, _ = w.Write(bytes.Repeat([]byte("x"), 65536))
			return
		case "/chunked":
			for i := range 3 {
				fmt.Fprintf(w, "part%d;", i)
				w.(http.Flusher).Flush()
			}
			return
		}
		body, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(body)
		fmt.Fprintf(w, "%s %s|xff=%s|proto=%s|port=%s|id=%t|len=%d|sum=%s|conn=%s",
			r.Method, r.URL.Path, r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"),
			r.Header.Get("X-Forwarded-Port"), len(r.Header.Get("X-Request-Id")) == 16, len(body),
			hex.EncodeToString(sum[:4]), r.Header.Get("Connection"))
	}))
	t.Cleanup(ts.Close)
	return ts
}

func hostport(ts *httptest.Server) string { return strings.TrimPrefix(ts.URL, "http://") }

func client() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestKeepAliveGET(t *testing.T) {
	for _, layer := range layers {
		t.Run(layer, func(t *testing.T) {
			a, b := target(t), target(t)
			s := start(t, layer, Config{Targets: []string{hostport(a), hostport(b)}})
			c := client()
			_, port, _ := net.SplitHostPort(s.Addr())
			for i := range 20 {
				code, body := get(t, c, "http://"+s.Addr()+"/p"+strconv.Itoa(i))
				want := fmt.Sprintf("GET /p%d|xff=127.0.0.1|proto=http|port=%s|id=true|len=0|sum=e3b0c442|conn=", i, port)
				if code != 200 || body != want {
					t.Fatalf("request %d: %d %q, want 200 %q", i, code, body, want)
				}
			}
			code, body := get(t, c, "http://"+s.Addr()+"/chunked")
			if code != 200 || body != "part0;part1;part2;" {
				t.Fatalf("chunked: %d %q", code, body)
			}
			c.CloseIdleConnections()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			st := s.Stats()
			if st.Requests != 21 || st.Reused == 0 || st.Dials > 8 {
				t.Errorf("stats %+v: want 21 requests over a few reused target connections", st)
			}
		})
	}
}

func TestPOSTBody(t *testing.T) {
	for _, layer := range layers {
		t.Run(layer, func(t *testing.T) {
			s := start(t, layer, Config{Targets: []string{hostport(target(t))}})
			c := client()
			body := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16) // 100 KiB, over the 16 KiB buffer
			sum := sha256.Sum256(body)
			for range 3 {
				resp, err := c.Post("http://"+s.Addr()+"/up", "application/octet-stream", bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := fmt.Sprintf("|len=%d|sum=%s|", len(body), hex.EncodeToString(sum[:4]))
				if !strings.Contains(string(got), want) {
					t.Fatalf("got %q, want it to contain %q", got, want)
				}
			}
		})
	}
}

func TestPipelined(t *testing.T) {
	for _, layer := range layers {
		t.Run(layer, func(t *testing.T) {
			s := start(t, layer, Config{Targets: []string{hostport(target(t))}})
			conn, err := net.Dial("tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // a hang guard, not timing logic
			if _, err := io.WriteString(conn, "GET /first HTTP/1.1\r\nHost: x\r\n\r\nPOST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			for _, want := range []string{"GET /first|", "POST /second|"} {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !strings.HasPrefix(string(b), want) {
					t.Fatalf("got %q, want prefix %q", b, want)
				}
			}
		})
	}
}

func TestChunkedRequestRefused(t *testing.T) {
	for _, layer := range layers {
		t.Run(layer, func(t *testing.T) {
			s := start(t, layer, Config{Targets: []string{hostport(target(t))}})
			conn, err := net.Dial("tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 501 {
				t.Fatalf("status %d, want 501", resp.StatusCode)
			}
		})
	}
}

// brokenTarget answers one request with a head promising 1000 bytes,
// sends 10 and closes.
func brokenTarget(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(c)
			if _, err := http.ReadRequest(br); err == nil {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestTargetClosesMidResponse(t *testing.T) {
	for _, layer := range layers {
		t.Run(layer, func(t *testing.T) {
			s := start(t, layer, Config{Targets: []string{brokenTarget(t)}})
			conn, err := net.Dial("tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // a hang fails the test
			_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			got, err := io.ReadAll(conn)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the client hung: %q", got)
			}
			if !bytes.HasSuffix(got, []byte("\r\n\r\n0123456789")) {
				t.Fatalf("got %q, want the head and the 10 bytes, then the close", got)
			}
		})
	}
}

func TestTargetRefused(t *testing.T) {
	for _, layer := range layers {
		t.Run(layer, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			s := start(t, layer, Config{Targets: []string{addr}})
			code, body := get(t, client(), "http://"+s.Addr()+"/")
			if code != 502 || body != "" {
				t.Fatalf("%d %q, want an empty 502 (nothing internal reaches the client)", code, body)
			}
		})
	}
}

func TestCloseStopsLoops(t *testing.T) {
	for _, layer := range layers {
		t.Run(layer, func(t *testing.T) {
			ts := target(t)
			s := start(t, layer, Config{Targets: []string{hostport(ts)}, AccessLog: io.Discard})
			c := client()
			get(t, c, "http://"+s.Addr()+"/")
			// An open client connection must not keep a loop alive.
			conn, err := net.Dial("tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			c.CloseIdleConnections()
			ts.Close()
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := conn.Read(make([]byte, 1)); err == nil {
				t.Error("the client connection is still open after Close")
			}
			goleak.VerifyNone(t, goleakOptions()...)
		})
	}
}

// TestBackpressure: a 64 KiB response to a client that does not read.
// With small socket buffers the kernel cannot hold it, so the loop must
// stop reading the target (a pause) while holding no more than its two
// buffers; then the client reads it all.
func TestBackpressure(t *testing.T) {
	for _, layer := range layers {
		t.Run(layer, func(t *testing.T) {
			if layer == "gnet" {
				t.Skip("gnet v2.9.7 cannot stop reading a connection (no read pause, no writable callback): " +
					"it buffers what the client has not taken; see docs/performance.md")
			}
			const bufSize = 16 << 10
			s := start(t, layer, Config{Targets: []string{hostport(target(t))}, BufSize: bufSize, SockBuf: 4096, Loops: 1})
			d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
				return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
			}}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := d.DialContext(ctx, "tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, _ = io.WriteString(conn, "GET /64k HTTP/1.1\r\nHost: x\r\n\r\n")
			for s.Pauses() == 0 {
				if ctx.Err() != nil {
					t.Fatal("the loop never paused reading the target: the response is being buffered")
				}
				time.Sleep(time.Millisecond) // polling an event the loop raises, not timing
			}
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			if err != nil || n != 65536 {
				t.Fatalf("read %d bytes, %v", n, err)
			}
			conn.Close()
			_ = s.Close()
			if mb := s.Stats().MaxBuffered; mb > 2*bufSize {
				t.Errorf("the loop held %d bytes for one session, over %d", mb, 2*bufSize)
			}
		})
	}
}

// TestConcurrentPOST: 20 keep-alive clients POST 16 KiB bodies at once,
// as the post16k-c50 bench scenario does.
func TestConcurrentPOST(t *testing.T) {
	for _, layer := range layers {
		t.Run(layer, func(t *testing.T) {
			s := start(t, layer, Config{Targets: []string{hostport(target(t)), hostport(target(t))}})
			body := bytes.Repeat([]byte("x"), 16<<10)
			want := fmt.Sprintf("|len=%d|", len(body))
			errc := make(chan error, 20)
			for range 20 {
				go func() {
					c := client()
					defer c.CloseIdleConnections()
					for range 30 {
						resp, err := c.Post("http://"+s.Addr()+"/post", "application/octet-stream", bytes.NewReader(body))
						if err != nil {
							errc <- err
							return
						}
						got, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						if err != nil || resp.StatusCode != 200 || !strings.Contains(string(got), want) {
							errc <- fmt.Errorf("%d %q %v", resp.StatusCode, got, err)
							return
						}
					}
					errc <- nil
				}()
			}
			for range 20 {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// earlyTarget answers each POST as soon as it read the head, then reads
// and drops the body and keeps the connection, as nginx's "return" does.
func earlyTarget(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nearly\n"); err != nil {
						return
					}
					if _, err := io.Copy(io.Discard, req.Body); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestResponseBeforeBody(t *testing.T) {
	for _, layer := range layers {
		t.Run(layer, func(t *testing.T) {
			s := start(t, layer, Config{Targets: []string{earlyTarget(t)}})
			c := client()
			body := bytes.Repeat([]byte("x"), 64<<10)
			for i := range 5 {
				resp, err := c.Post("http://"+s.Addr()+"/post", "application/octet-stream", bytes.NewReader(body))
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(got) != "early\n" {
					t.Fatalf("request %d: %q", i, got)
				}
			}
			c.CloseIdleConnections()
			_ = s.Close()
			if st := s.Stats(); st.Dials != 1 {
				t.Errorf("%d target connections for 5 requests on one client connection, want 1 (kept alive)", st.Dials)
			}
		})
	}
}
