package http1

import (
	"bufio"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
)

// FuzzParseVsNetHTTP is a differential test: on every input that both
// Parse and net/http's http.ReadRequest accept as a request head, they
// must agree on the method, target, version, Host, body framing,
// whether the connection closes, and the header fields.
func FuzzParseVsNetHTTP(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /p?q=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"GET /p HTTP/1.0\r\n\r\n",
		"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"PUT /x HTTP/1.1\r\nhost: a\r\nexpect: 100-continue\r\ncontent-length: 3\r\n\r\nabc",
		"GET http://example.com:8080/abs HTTP/1.1\r\nHost: other\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\nX-Y: z\n\n",
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX-A: 1\r\nX-A: 2\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nCookie: a=b; c=d\r\nAccept:   text/html  \r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
		"DELETE /r HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var r Request
		buf := []byte(in)
		n, err := Parse(buf, &r, Limits{})
		if err != nil {
			return
		}
		nr, nerr := http.ReadRequest(bufio.NewReader(strings.NewReader(in)))
		if nerr != nil {
			return
		}
		// obs-fold and unusual whitespace are joined differently; compare
		// only the plain cases.
		head := in[:n]
		if strings.Contains(head, "\n ") || strings.Contains(head, "\n\t") {
			return
		}
		if string(r.Method) != nr.Method || string(r.Target) != nr.RequestURI {
			t.Fatalf("request line: ours %q %q, net/http %q %q", r.Method, r.Target, nr.Method, nr.RequestURI)
		}
		if nr.ProtoMajor != 1 || r.Minor != min(nr.ProtoMinor, 1) {
			t.Fatalf("version: ours 1.%d, net/http %d.%d", r.Minor, nr.ProtoMajor, nr.ProtoMinor)
		}
		// net/http percent-decodes an absolute-form authority; ours stays
		// as sent.
		if string(r.Host) != nr.Host && !strings.Contains(string(r.Host), "%") {
			t.Fatalf("Host: ours %q, net/http %q", r.Host, nr.Host)
		}
		wantCL := int64(0)
		switch {
		case r.Chunked:
			wantCL = -1
		case r.ContentLength >= 0:
			wantCL = r.ContentLength
		}
		// An HTTP/1.0 request with Transfer-Encoding: net/http ignores the
		// field; ours decodes chunked and closes the connection after it,
		// as RFC 9112 §6.1 asks ("treat the message as if the framing is
		// faulty ... and close the connection").
		legacyTE := r.Minor == 0 && r.HadTransferEncoding
		if nr.ContentLength != wantCL && !legacyTE {
			t.Fatalf("framing: ours chunked %v length %d, net/http length %d", r.Chunked, r.ContentLength, nr.ContentLength)
		}
		if !(r.HadContentLength && r.HadTransferEncoding) && !legacyTE && r.Close != nr.Close {
			t.Fatalf("close: ours %v, net/http %v", r.Close, nr.Close)
		}
		ours := http.Header{}
		for _, h := range r.Headers {
			if len(h.Name) == 0 {
				continue // kept for the classifier; net/http drops or refuses it
			}
			k := textproto.CanonicalMIMEHeaderKey(string(h.Name))
			switch k {
			case "Host", "Transfer-Encoding", "Content-Length":
				continue // net/http moves or drops them
			}
			ours[k] = append(ours[k], string(h.Value))
		}
		for k, vs := range nr.Header {
			if k == "Content-Length" || k == "Host" {
				continue
			}
			if strings.Join(ours[k], "\x00") != strings.Join(vs, "\x00") {
				t.Fatalf("header %s: ours %q, net/http %q", k, ours[k], vs)
			}
			delete(ours, k)
		}
		for k := range ours {
			t.Fatalf("header %s: only ours has it", k)
		}
	})
}
