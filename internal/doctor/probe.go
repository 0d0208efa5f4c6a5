package doctor

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// maxHead bounds how much of a response header conformance reads.
const maxHead = 64 << 10

// probeConnect dials address with a plain TCP connect and keeps the
// failure class of the outcome; Outcome is its display word.
func probeConnect(ctx context.Context, address string, timeout time.Duration) Connect {
	start := time.Now()
	c, err := (&target.Dialer{Timeout: timeout}).Dial(ctx, address)
	r := Connect{Done: true, Address: address, Duration: time.Since(start), Outcome: "ok"}
	if err != nil {
		r.Class = failure.Classify(err)
		r.Detail = err.Error()
		r.Outcome = outcomeWord(r.Class)
		return r
	}
	c.Close()
	return r
}

// outcomeWord is a class's word in the probe table, for display only.
func outcomeWord(c failure.Class) string {
	switch c.Type {
	case failure.None:
		return "ok"
	case failure.ConnectionRefused:
		return "refused"
	case failure.ConnectionTimeout, failure.HTTPResponseTimeout, failure.DNSTimeout:
		return "timeout"
	case failure.DestinationIPUnroutable:
		return "unreachable"
	case failure.DNSError:
		return "dns"
	}
	return "error"
}

// probeDNS resolves a host name target through target.Dialer, the way
// traffic does, so a failure is classified; IP targets need no probe.
func probeDNS(ctx context.Context, address string, timeout time.Duration) Connect {
	host, _, err := net.SplitHostPort(address)
	if err != nil || net.ParseIP(host) != nil {
		return Connect{}
	}
	start := time.Now()
	c, err := (&target.Dialer{Timeout: timeout}).Dial(ctx, address)
	r := Connect{Done: true, Address: host, Duration: time.Since(start), Outcome: "ok"}
	if c != nil {
		c.Close()
	}
	if cl := failure.Classify(err); err != nil && cl.Phase == failure.PhaseDNS {
		r.Class, r.Outcome, r.Detail = cl, outcomeWord(cl), err.Error()
		return r
	}
	if addrs, err := net.DefaultResolver.LookupHost(ctx, host); err == nil {
		r.Detail = strings.Join(addrs, ", ") // display only
	}
	return r
}

// probeTLS handshakes through target.Dialer with the group's settings and
// checks the chain and name separately, so a certificate problem shows
// even when the group skips verification.
func probeTLS(ctx context.Context, address string, cfg *tls.Config, timeout time.Duration) TLSInfo {
	info := TLSInfo{Done: true, SkipVerify: cfg.InsecureSkipVerify}
	serverName := cfg.ServerName
	if serverName == "" {
		serverName = hostOf(address)
	}
	conn, err := dialFor(ctx, address, cfg, timeout)
	if err != nil {
		info.HandshakeClass, info.HandshakeErr = failure.Classify(err), err.Error()
		return info
	}
	defer conn.Close()
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return info
	}
	st := tc.ConnectionState()
	info.Version, info.Cipher, info.ALPN = tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.NegotiatedProtocol
	if len(st.PeerCertificates) == 0 {
		info.VerifyErr = "no certificate"
		return info
	}
	leaf := st.PeerCertificates[0]
	info.Subject, info.NotAfter = leaf.Subject.String(), leaf.NotAfter
	inter := x509.NewCertPool()
	for _, ic := range st.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: serverName, Roots: cfg.RootCAs, Intermediates: inter}); err != nil {
		info.VerifyErr = err.Error()
	}
	return info
}

// dialFor opens a connection for an HTTP probe, TLS when cfg is set.
func dialFor(ctx context.Context, address string, cfg *tls.Config, timeout time.Duration) (net.Conn, error) {
	if cfg != nil {
		cfg = cfg.Clone()
		cfg.InsecureSkipVerify = true // the TLS probe reports verification
	}
	return (&target.Dialer{Timeout: timeout, TLS: cfg}).Dial(ctx, address)
}

// probeConformance sends one GET and reads the response header byte for
// byte, checking the status line, header syntax and body framing
// (RFC 9112 §4, §5, §6). It waits up to timeout for the first byte and
// records when it came, so a slow target is told from one that never
// answers; a failure carries its class.
func probeConformance(ctx context.Context, address, path string, cfg *tls.Config, timeout time.Duration) Conformance {
	r := Conformance{Done: true, Path: path, Timeout: timeout}
	start := time.Now()
	c, err := dialFor(ctx, address, cfg, timeout)
	if err != nil {
		r.Done, r.Err, r.Class = false, err.Error(), failure.Classify(err)
		return r
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	c.SetDeadline(time.Now().Add(timeout))
	sent := time.Now()
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: fulcrum-doctor\r\nAccept: */*\r\nConnection: close\r\n\r\n", path, address); err != nil {
		r.Err, r.Class = err.Error(), failure.Classify(&failure.AttemptError{Phase: failure.PhaseWrite, Target: address, Written: true, Err: err})
		return r
	}
	br := bufio.NewReaderSize(c, 4096)
	if _, err := br.Peek(1); err != nil {
		r.Latency = time.Since(sent)
		r.Err = fmt.Sprintf("no response byte within %s: %v", time.Since(start).Round(time.Millisecond), err)
		r.Class = failure.Classify(&failure.AttemptError{Phase: failure.PhaseAwaitHeaders, Target: address, Written: true, Err: err})
		return r
	}
	r.Latency, r.Answered = time.Since(sent), true
	var head []byte
	for len(head) < maxHead {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			r.Problems = append(r.Problems, fmt.Sprintf("header section ends without an empty line after %d bytes (%v)", len(head), err))
			break
		}
		if bytes.HasSuffix(head, []byte("\r\n\r\n")) || bytes.HasSuffix(head, []byte("\n\n")) {
			break
		}
	}
	checkHead(head, &r)
	return r
}

// checkHead checks a raw response header.
func checkHead(head []byte, r *Conformance) {
	lines := bytes.Split(head, []byte("\n"))
	status := bytes.TrimSuffix(lines[0], []byte("\r"))
	r.StatusLine = string(status)
	if !bytes.HasSuffix(lines[0], []byte("\r")) {
		r.Problems = append(r.Problems, "status line ends with a bare LF")
	}
	f := bytes.SplitN(status, []byte(" "), 3)
	if len(f) < 2 || !bytes.HasPrefix(f[0], []byte("HTTP/1.")) || len(f[1]) != 3 {
		r.Problems = append(r.Problems, fmt.Sprintf("malformed status line %q", status))
	} else {
		r.Status, _ = strconv.Atoi(string(f[1]))
	}
	var cl []string
	chunked, closeConn := false, false
	for _, l := range lines[1:] {
		l = bytes.TrimSuffix(l, []byte("\r"))
		if len(l) == 0 {
			break
		}
		if l[0] == ' ' || l[0] == '\t' {
			r.Problems = append(r.Problems, fmt.Sprintf("obsolete line folding: %q", l))
			continue
		}
		name, value, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			r.Problems = append(r.Problems, fmt.Sprintf("header line without a colon: %q", l))
			continue
		}
		if len(name) == 0 || !validToken(name) {
			r.Problems = append(r.Problems, fmt.Sprintf("invalid header name %q (RFC 9110 §5.1 token)", name))
			continue
		}
		value = bytes.TrimSpace(value)
		for _, b := range value {
			if (b < 0x20 && b != '\t') || b == 0x7f {
				r.Problems = append(r.Problems, fmt.Sprintf("control byte 0x%02x in header %s: %q", b, name, value))
				break
			}
		}
		switch strings.ToLower(string(name)) {
		case "content-length":
			cl = append(cl, string(value))
		case "transfer-encoding":
			chunked = strings.Contains(strings.ToLower(string(value)), "chunked")
		case "connection":
			closeConn = strings.Contains(strings.ToLower(string(value)), "close")
		}
	}
	switch {
	case chunked && len(cl) > 0:
		r.Problems = append(r.Problems, "both Transfer-Encoding: chunked and Content-Length (RFC 9112 §6.1: a sign of request smuggling)")
		r.Framing = "chunked"
	case len(cl) > 1 && !allSame(cl):
		r.Problems = append(r.Problems, fmt.Sprintf("conflicting Content-Length values %v", cl))
	case len(cl) > 0:
		if _, err := strconv.ParseUint(cl[0], 10, 63); err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("invalid Content-Length %q", cl[0]))
		}
		r.Framing = "content-length"
	case chunked:
		r.Framing = "chunked"
	case closeConn:
		r.Framing = "close"
	default:
		r.Framing = "none"
	}
}

func allSame(v []string) bool {
	for _, x := range v[1:] {
		if x != v[0] {
			return false
		}
	}
	return true
}

func validToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// probeKeepAlive learns how long the target keeps an idle connection
// open without waiting it out where it can: the response's Keep-Alive:
// timeout=N header (RFC 2068 §19.7.1.1, as nginx, Apache and Node send
// it), else known (the value a running Fulcrum learned), else it waits
// up to limit for the target to close, a bounded search: a target still
// open at limit keeps connections at least that long.
func probeKeepAlive(ctx context.Context, address, path string, cfg *tls.Config, timeout, limit, known time.Duration) KeepAlive {
	k := KeepAlive{Done: true, Limit: limit}
	c, err := dialFor(ctx, address, cfg, timeout)
	if err != nil {
		k.Done, k.Err, k.Class = false, err.Error(), failure.Classify(err)
		return k
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	c.SetDeadline(time.Now().Add(timeout))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: fulcrum-doctor\r\n\r\n", path, address)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		k.Done, k.Err = false, err.Error()
		k.Class = failure.Classify(&failure.AttemptError{Phase: failure.PhaseAwaitHeaders, Target: address, Written: true, Err: err})
		return k
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		k.Source = "Connection: close"
		k.IdleClose = time.Nanosecond
		return k
	}
	if d, ok := keepAliveTimeout(resp.Header.Get("Keep-Alive")); ok {
		k.IdleClose, k.Source = d, "Keep-Alive header"
		return k
	}
	if known > 0 {
		k.IdleClose, k.Source = known, "learned by the running Fulcrum"
		return k
	}
	k.Source = "waited"
	idleStart := time.Now()
	c.SetDeadline(idleStart.Add(limit))
	_, err = br.ReadByte()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		if ctx.Err() != nil {
			k.Done = false
		}
		return k // still open at the limit
	}
	k.IdleClose = time.Since(idleStart)
	return k
}

// keepAliveTimeout parses the timeout parameter of a Keep-Alive header
// ("timeout=5, max=1000"), in whole seconds.
func keepAliveTimeout(v string) (time.Duration, bool) {
	for _, p := range strings.Split(v, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "timeout") {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || n <= 0 {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	return 0, false
}
