//go:build linux

package evloop

import (
	"bytes"
	"io"
	"net"
	"testing"
)

// rawTarget answers every request head (ended by CRLFCRLF, no body)
// with a fixed 6-byte response, without allocating per request.
func rawTarget(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	b.Cleanup(func() { ln.Close(); <-done })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n")
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 16<<10)
				n := 0
				for {
					k, err := c.Read(buf[n:])
					if err != nil {
						return
					}
					n += k
					for {
						i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
						if i < 0 {
							break
						}
						n = copy(buf, buf[i+4:n])
						if _, err := c.Write(resp); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkProxyGET sends keep-alive GETs one at a time through each
// layer over loopback. allocs/op covers the proxy, the client and the
// target in this process: the proxy's hot path must add none.
func BenchmarkProxyGET(b *testing.B) {
	for _, layer := range layers {
		b.Run(layer, func(b *testing.B) {
			var cfg Config
			cfg.Targets = []string{rawTarget(b)}
			cfg.Listen = "127.0.0.1:0"
			cfg.Loops = 1
			var s server
			var err error
			if layer == "epoll" {
				s, err = StartEpoll(cfg)
			} else {
				s, err = StartGnet(cfg)
			}
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			c, err := net.Dial("tcp", s.Addr())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte("GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: wrk\r\n\r\n")
			const respLen = 43 // the target's 37 bytes of head and 6 of body
			buf := make([]byte, respLen)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
