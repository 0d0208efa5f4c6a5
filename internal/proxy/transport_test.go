package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// TestWriteRequestHead: the head writeRequest sends for each framing,
// whether it is appended into the writer's free space, follows what the
// writer already holds, or is larger than the writer's whole buffer.
func TestWriteRequestHead(t *testing.T) {
	fields := httpmsg.Header{{Name: "User-Agent", Value: "wrk"}, {Name: "X-Forwarded-For", Value: "192.0.2.7"}}
	const start = "GET / HTTP/1.1\r\nHost: app\r\nUser-Agent: wrk\r\nX-Forwarded-For: 192.0.2.7\r\n"
	big := strings.Repeat("v", 5000)
	for _, tc := range []struct {
		name    string
		r       outRequest
		pending string // already in the writer
		want    string
	}{
		{"get", outRequest{method: "GET", uri: "/", host: "app", header: fields}, "", start + "\r\n"},
		{"empty post", outRequest{method: "POST", uri: "/p?q=1", host: "app"}, "", "POST /p?q=1 HTTP/1.1\r\nHost: app\r\nContent-Length: 0\r\n\r\n"},
		{"length", outRequest{method: "PUT", uri: "/", host: "app", body: strings.NewReader("hello"), contentLength: 5}, "",
			"PUT / HTTP/1.1\r\nHost: app\r\nContent-Length: 5\r\n\r\nhello"},
		{"chunked with codings and close", outRequest{method: "POST", uri: "/", host: "app", body: strings.NewReader("abc"), contentLength: -1, codings: "gzip", close: true}, "",
			"POST / HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
		{"after pending bytes", outRequest{method: "GET", uri: "/", host: "app", header: fields}, strings.Repeat("p", 4000), strings.Repeat("p", 4000) + start + "\r\n"},
		{"larger than the buffer", outRequest{method: "GET", uri: "/", host: "app", header: httpmsg.Header{{Name: "Cookie", Value: big}}}, "x",
			"xGET / HTTP/1.1\r\nHost: app\r\nCookie: " + big + "\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			w := bufio.NewWriterSize(&out, 4096)
			w.WriteString(tc.pending)
			if err := writeRequest(w, &tc.r, nil); err != nil {
				t.Fatal(err)
			}
			w.Flush()
			if diff := cmp.Diff(tc.want, out.String()); diff != "" {
				t.Errorf("sent (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWriteRequestHeadAllocs: a small head is appended into the writer's
// buffer, with no allocation.
func TestWriteRequestHeadAllocs(t *testing.T) {
	r := benchOutRequest()
	w := bufio.NewWriterSize(io.Discard, 4096)
	if n := testing.AllocsPerRun(100, func() {
		writeRequest(w, r, nil)
		w.Flush()
	}); n != 0 {
		t.Errorf("%v allocations a request, want 0", n)
	}
}

func benchOutRequest() *outRequest {
	return &outRequest{method: "GET", uri: "/", host: "127.0.0.1:11310", header: httpmsg.Header{
		{Name: "User-Agent", Value: "wrk"}, {Name: "Accept", Value: "*/*"},
		{Name: "X-Forwarded-For", Value: "127.0.0.1"}, {Name: "X-Forwarded-Proto", Value: "http"},
		{Name: "X-Forwarded-Port", Value: "11310"}, {Name: "X-Amzn-Trace-Id", Value: "Root=1-67890abc-0123456789abcdef01234567"},
	}}
}

// BenchmarkWriteRequest writes a small GET's head, as the bench's wrk
// sends it with Fulcrum's forwarded fields: 135 ns a head piece by piece
// through bufio, 62 ns appended into its free space.
func BenchmarkWriteRequest(b *testing.B) {
	r := benchOutRequest()
	w := bufio.NewWriterSize(io.Discard, 4096)
	b.ReportAllocs()
	for b.Loop() {
		writeRequest(w, r, nil)
		w.Flush()
	}
}

// gatherConn is a connection that records its writes, and the buffers of
// each gathered write.
type gatherConn struct {
	net.Conn // nil: only the writes are used
	writes   []string
	gathered [][]string
}

func (c *gatherConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *gatherConn) WriteBuffers(bufs [][]byte) (int64, error) {
	var n int64
	var got []string
	for _, b := range bufs {
		got = append(got, string(b))
		n += int64(len(b))
	}
	c.gathered = append(c.gathered, got)
	return n, nil
}

// TestWriteBufferedBody: a buffered body goes out with its head in one
// gathered write, counted in wrote; a streamed body, a connection that
// cannot gather and a head that does not fit the write buffer take
// bufio's path.
func TestWriteBufferedBody(t *testing.T) {
	body := []byte(strings.Repeat("b", 16<<10))
	const head = "POST /up HTTP/1.1\r\nHost: app\r\nContent-Length: 16384\r\n\r\n"
	req := func() *outRequest {
		return &outRequest{method: "POST", uri: "/up", host: "app", body: bytes.NewReader(body), contentLength: int64(len(body)), buffered: body}
	}

	gc := &gatherConn{}
	c := newBackendConn(gc, nil)
	if err := c.writeRequest(req(), nil); err != nil {
		t.Fatal(err)
	}
	c.bw.Flush()
	if want := [][]string{{head, string(body)}}; !cmp.Equal(gc.gathered, want) || len(gc.writes) != 0 {
		t.Errorf("gathered %d writes, %d plain writes; want the head and body in one", len(gc.gathered), len(gc.writes))
	}
	if c.wrote != int64(len(head)+len(body)) {
		t.Errorf("wrote %d, want %d", c.wrote, len(head)+len(body))
	}

	streamed := req()
	streamed.buffered = nil
	big := req()
	big.header = httpmsg.Header{{Name: "Cookie", Value: strings.Repeat("c", 5000)}}
	for name, r := range map[string]*outRequest{"streamed": streamed, "head over the buffer": big} {
		gc := &gatherConn{}
		c := newBackendConn(gc, nil)
		if err := c.writeRequest(r, nil); err != nil {
			t.Fatal(err)
		}
		c.bw.Flush()
		if len(gc.gathered) != 0 || !strings.HasSuffix(strings.Join(gc.writes, ""), string(body)) {
			t.Errorf("%s: %d gathered writes, want bufio's", name, len(gc.gathered))
		}
	}

	var out bytes.Buffer
	c = newBackendConn(&plainConn{w: &out}, nil)
	if err := c.writeRequest(req(), nil); err != nil {
		t.Fatal(err)
	}
	c.bw.Flush()
	if out.String() != head+string(body) {
		t.Errorf("without WriteBuffers: sent %d bytes, want %d", out.Len(), len(head)+len(body))
	}
}

// plainConn is a connection that can only Write.
type plainConn struct {
	net.Conn
	w io.Writer
}

func (c *plainConn) Write(p []byte) (int, error) { return c.w.Write(p) }
