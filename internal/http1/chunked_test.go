package http1

import (
	"bytes"
	"errors"
	"io"
	"net/http/httputil"
	"testing"
)

func decodeAll(t *testing.T, in []byte, step int) ([]byte, error) {
	t.Helper()
	var d ChunkedDecoder
	var out []byte
	var pending []byte
	for i := 0; i < len(in) || len(pending) > 0; {
		if i < len(in) {
			e := min(i+step, len(in))
			pending = append(pending, in[i:e]...)
			i = e
		}
		for len(pending) > 0 && !d.Done() {
			data, n, err := d.Decode(pending)
			if err != nil {
				return out, err
			}
			out = append(out, data...)
			pending = pending[n:]
			if n == 0 {
				break
			}
		}
		if d.Done() {
			return out, nil
		}
		if i >= len(in) {
			break
		}
	}
	if !d.Done() {
		return out, errors.New("not done")
	}
	return out, nil
}

func TestChunkedDecoder(t *testing.T) {
	ok := map[string]string{
		"5\r\nhello\r\n0\r\n\r\n":                              "hello",
		"5;ext=1;x=\"y\"\r\nhello\r\n6\r\n world\r\n0\r\n\r\n": "hello world",
		"A\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n":           "0123456789",
		"5\nhello\n0\n\n":                                      "hello",
		"0\r\n\r\n":                                            "",
	}
	for in, want := range ok {
		for _, step := range []int{1, 3, len(in)} {
			got, err := decodeAll(t, []byte(in), step)
			if err != nil || string(got) != want {
				t.Errorf("%q step %d: %q, %v; want %q", in, step, got, err, want)
			}
		}
	}
	for _, in := range []string{"x\r\n", "\r\n", "5\r\nhelloX\r\n", "-1\r\n", ";a\r\n", "5;\x00\r\n", "fffffffffffffffff\r\n"} {
		var d ChunkedDecoder
		if _, err := decodeAll(t, []byte(in), len(in)); err == nil || d.Done() {
			t.Errorf("%q: accepted", in)
		}
	}
}

func TestReframe(t *testing.T) {
	in := []byte("POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nTransfer_Encoding: x\r\n Content-Length: 9\r\nX-A: 1\r\n\r\n")
	var r Request
	if _, err := Parse(in, &r, Limits{}); err != nil {
		t.Fatal(err)
	}
	got := string(AppendRequest(nil, &r))
	want := "POST /u HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	body := AppendLastChunk(AppendChunk(AppendChunk(nil, []byte("ab")), []byte("0123456789abcdef")))
	if !bytes.Equal(body, []byte("2\r\nab\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n")) {
		t.Errorf("chunks %q", body)
	}
	in = []byte("POST /u HTTP/1.1\r\nHost: a\r\n: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: identity, chunked\r\n\r\n")
	if _, err := Parse(in, &r, Limits{}); err != nil {
		t.Fatal(err)
	}
	if got := string(AppendRequest(nil, &r)); got != "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" {
		t.Errorf("codings: %q", got)
	}
	in = []byte("POST /u HTTP/1.0\r\nContent-Length: 3\r\n\r\n")
	if _, err := Parse(in, &r, Limits{}); err != nil {
		t.Fatal(err)
	}
	if got := string(AppendRequest(nil, &r)); got != "POST /u HTTP/1.1\r\nContent-Length: 3\r\n\r\n" {
		t.Errorf("CL: %q", got)
	}
}

// FuzzChunkedDecoder checks the decoder, fed one byte at a time, against
// net/http/httputil's chunked reader on bodies both accept.
func FuzzChunkedDecoder(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ours, err := decodeAll(t, in, 1)
		if err != nil {
			return
		}
		theirs, herr := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(in)))
		if herr != nil {
			return
		}
		if !bytes.Equal(ours, theirs) {
			t.Fatalf("ours %q, httputil %q", ours, theirs)
		}
	})
}
