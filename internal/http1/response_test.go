package http1

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/fulcrumlb/fulcrum/internal/desync"
)

func TestParseResponse(t *testing.T) {
	type want struct {
		status int
		minor  int
		reason string
		cl     int64
		chunk  bool
		close  bool
		fields int
		err    Kind // 0: parsed
	}
	cases := []struct {
		name, in string
		want     want
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n", want{status: 200, minor: 1, reason: "OK", cl: 6, fields: 1}},
		{"no reason", "HTTP/1.1 204\r\n\r\n", want{status: 204, minor: 1, cl: -1}},
		{"empty reason", "HTTP/1.1 404 \r\n\r\n", want{status: 404, minor: 1, cl: -1}},
		{"bare LF", "HTTP/1.1 200 OK\nA: b\n\n", want{status: 200, minor: 1, reason: "OK", cl: -1, fields: 1}},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", want{status: 200, minor: 1, reason: "OK", cl: -1, chunk: true, fields: 1}},
		{"gzip then chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", want{status: 200, minor: 1, reason: "OK", cl: -1, chunk: true, fields: 1}},
		{"TE not chunked: until close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", want{status: 200, minor: 1, reason: "OK", cl: -1, close: true, fields: 1}},
		{"TE and CL: TE wins, no reuse", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", want{status: 200, minor: 1, reason: "OK", cl: -1, chunk: true, close: true, fields: 2}},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", want{status: 200, minor: 1, reason: "OK", cl: 0, close: true, fields: 2}},
		{"HTTP/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", want{status: 200, reason: "OK", cl: 0, close: true, fields: 1}},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", want{status: 200, reason: "OK", cl: 0, fields: 2}},
		{"same CL twice", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", want{status: 200, minor: 1, reason: "OK", cl: 2, fields: 2}},
		{"obs-fold joined", "HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\n\r\n", want{status: 200, minor: 1, reason: "OK", cl: -1, fields: 1}},
		{"HTTP/1.2 read as 1.1", "HTTP/1.2 200 OK\r\n\r\n", want{status: 200, minor: 1, reason: "OK", cl: -1}},
		{"differing CL", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", want{err: KindMalformed}},
		{"bad CL", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", want{err: KindMalformed}},
		{"CL list", "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n", want{err: KindMalformed}},
		{"space in name", "HTTP/1.1 200 OK\r\nX-Debug Info: 1\r\n\r\n", want{err: KindMalformed}},
		{"space before colon", "HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n", want{err: KindMalformed}},
		{"control byte in value", "HTTP/1.1 200 OK\r\nX-A: a\x01b\r\n\r\n", want{err: KindMalformed}},
		{"no colon", "HTTP/1.1 200 OK\r\nX-A\r\n\r\n", want{err: KindMalformed}},
		{"leading fold", "HTTP/1.1 200 OK\r\n x\r\n\r\n", want{err: KindMalformed}},
		{"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", want{err: KindMalformed}},
		{"status 099", "HTTP/1.1 099 X\r\n\r\n", want{err: KindMalformed}},
		{"HTTP/2 status line", "HTTP/2.0 200 OK\r\n\r\n", want{err: KindMalformed}},
		{"not HTTP", "SSH-2.0-OpenSSH_9.6\r\n\r\n", want{err: KindMalformed}},
		{"status glued to reason", "HTTP/1.1 200OK\r\n\r\n", want{err: KindMalformed}},
	}
	var r Response
	for _, c := range cases {
		buf := []byte(c.in)
		n, err := ParseResponse(buf, &r, Limits{})
		if c.want.err != 0 {
			var pe *Error
			if !errors.As(err, &pe) || pe.Kind != c.want.err {
				t.Errorf("%s: err %v, want kind %d", c.name, err, c.want.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := want{status: r.Status, minor: r.Minor, reason: string(r.Reason), cl: r.ContentLength, chunk: r.Chunked, close: r.Close, fields: len(r.Headers)}
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
		if head := strings.Index(c.in, "\r\n\r\n"); head >= 0 && n != head+4 {
			t.Errorf("%s: head length %d, want %d", c.name, n, head+4)
		}
	}
}

func TestParseResponseFold(t *testing.T) {
	buf := []byte("HTTP/1.1 200 OK\r\nX-A: one\r\n\ttwo\r\nB: c\r\n\r\n")
	var r Response
	if _, err := ParseResponse(buf, &r, Limits{}); err != nil {
		t.Fatal(err)
	}
	if v, _ := r.Header("x-a"); string(v) != "one  \ttwo" {
		t.Errorf("folded value %q", v)
	}
	if v, ok := r.Header("b"); !ok || string(v) != "c" {
		t.Errorf("B = %q %v", v, ok)
	}
}

func TestParseResponseIncompleteAndLimits(t *testing.T) {
	full := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n"
	var r Response
	for i := 0; i < len(full); i++ {
		if _, err := ParseResponse([]byte(full[:i]), &r, Limits{}); err != ErrIncomplete {
			t.Fatalf("prefix %d: %v, want ErrIncomplete", i, err)
		}
	}
	big := "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 200) + "\r\n\r\n"
	var pe *Error
	if _, err := ParseResponse([]byte(big), &r, Limits{MaxHeaderBytes: 100}); !errors.As(err, &pe) || pe.Kind != KindHeaderTooLarge {
		t.Errorf("over MaxHeaderBytes: %v", err)
	}
	if _, err := ParseResponse([]byte(big[:90]), &r, Limits{MaxHeaderBytes: 100}); err != ErrIncomplete {
		t.Errorf("under MaxHeaderBytes: %v", err)
	}
	many := "HTTP/1.1 200 OK\r\n" + strings.Repeat("A: b\r\n", 3) + "\r\n"
	if _, err := ParseResponse([]byte(many), &r, Limits{MaxHeaders: 2}); !errors.As(err, &pe) || pe.Kind != KindHeaderTooLarge {
		t.Errorf("over MaxHeaders: %v", err)
	}
	// More fields than the array holds still parse (the slice grows).
	lots := "HTTP/1.1 200 OK\r\n" + strings.Repeat("Set-Cookie: a=b\r\n", MaxHeaders+10) + "\r\n"
	if _, err := ParseResponse([]byte(lots), &r, Limits{}); err != nil || len(r.Headers) != MaxHeaders+10 {
		t.Errorf("%d fields: %v, %d", MaxHeaders+10, err, len(r.Headers))
	}
}

func TestResponseNoBody(t *testing.T) {
	for _, c := range []struct {
		status int
		method string
		want   bool
	}{
		{200, "GET", false}, {200, "HEAD", true}, {204, "GET", true}, {304, "GET", true},
		{101, "GET", true}, {103, "GET", true}, {200, "CONNECT", true}, {407, "CONNECT", false}, {500, "POST", false},
	} {
		r := Response{Status: c.status}
		if got := r.NoBody([]byte(c.method)); got != c.want {
			t.Errorf("%d to %s: NoBody %v, want %v", c.status, c.method, got, c.want)
		}
	}
}

func TestParseResponseAllocs(t *testing.T) {
	buf := []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Wed, 02 Dec 2026 19:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: keep-alive\r\n\r\n")
	var r Response
	if n := testing.AllocsPerRun(100, func() { ParseResponse(buf, &r, Limits{}) }); n != 0 {
		t.Errorf("%v allocations per response head, want 0", n)
	}
}

func TestChunkedTrailer(t *testing.T) {
	body := "5\r\nhello\r\n0\r\nGrpc-Status: 0\r\nX-Bad Name: x\r\nChecksum:  abc \r\n\r\n"
	d := ChunkedDecoder{KeepTrailer: true}
	var data []byte
	in := []byte(body)
	// One byte at a time: the trailer survives any split.
	for i := 0; i < len(in) && !d.Done(); {
		out, n, err := d.Decode(in[i : i+1])
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, out...)
		i += n
	}
	if !d.Done() || string(data) != "hello" {
		t.Fatalf("done %v, data %q", d.Done(), data)
	}
	got := d.Trailer(nil)
	want := []desync.Header{{Name: []byte("Grpc-Status"), Value: []byte("0")}, {Name: []byte("Checksum"), Value: []byte("abc")}}
	if len(got) != len(want) {
		t.Fatalf("trailer %q, want %q", got, want)
	}
	for i := range got {
		if !bytes.Equal(got[i].Name, want[i].Name) || !bytes.Equal(got[i].Value, want[i].Value) {
			t.Errorf("trailer %d: %q: %q", i, got[i].Name, got[i].Value)
		}
	}
	d.Reset()
	if !d.KeepTrailer || d.Done() || len(d.Trailer(nil)) != 0 {
		t.Errorf("Reset kept state: %+v", d)
	}
	plain := ChunkedDecoder{}
	plain.Decode([]byte(body))
	if len(plain.Trailer(nil)) != 0 {
		t.Error("trailer kept without KeepTrailer")
	}
}

// FuzzParseResponseVsNetHTTP checks ParseResponse against net/http's
// reader on the heads both accept: the same status and framing.
func FuzzParseResponseVsNetHTTP(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var r Response
		n, err := ParseResponse(bytes.Clone(in), &r, Limits{})
		if err != nil {
			return
		}
		resp, nerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(in[:n])), &http.Request{Method: "GET"})
		if nerr != nil {
			return // net/http refuses some heads we accept (and we refuse some it accepts)
		}
		if resp.StatusCode != r.Status {
			t.Fatalf("status %d, net/http %d", r.Status, resp.StatusCode)
		}
		if r.NoBody([]byte("GET")) {
			return // no body: net/http reports Content-Length 0 whatever the field says
		}
		if r.ContentLength >= 0 && !r.Chunked && resp.ContentLength != r.ContentLength {
			t.Fatalf("Content-Length %d, net/http %d", r.ContentLength, resp.ContentLength)
		}
		if r.Chunked && !r.Close && len(resp.TransferEncoding) == 0 {
			t.Fatalf("chunked here, not for net/http: %q", in[:n])
		}
	})
}
