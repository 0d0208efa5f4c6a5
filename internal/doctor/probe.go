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

// probeConnect dials address with a plain TCP connect and classifies the
// outcome: ok, refused, timeout, unreachable, dns or error.
func probeConnect(ctx context.Context, address string, timeout time.Duration) Connect {
	start := time.Now()
	c, err := (&target.Dialer{Timeout: timeout}).Dial(ctx, address)
	r := Connect{Done: true, Address: address, Duration: time.Since(start), Outcome: "ok"}
	if err != nil {
		r.Class = failure.Classify(err)
		r.Detail = err.Error()
		switch r.Class.Type {
		case failure.ConnectionRefused:
			r.Outcome = "refused"
		case failure.ConnectionTimeout:
			r.Outcome = "timeout"
		case failure.DestinationIPUnroutable:
			r.Outcome = "unreachable"
		case failure.DNSError, failure.DNSTimeout:
			r.Outcome = "dns"
		default:
			r.Outcome = "error"
		}
		return r
	}
	c.Close()
	return r
}

// probeDNS resolves a host name target; IP targets need no probe.
func probeDNS(ctx context.Context, address string, timeout time.Duration) Connect {
	host, _, err := net.SplitHostPort(address)
	if err != nil || net.ParseIP(host) != nil {
		return Connect{}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	r := Connect{Done: true, Address: host, Duration: time.Since(start), Outcome: "ok", Detail: strings.Join(addrs, ", ")}
	if err != nil {
		r.Outcome, r.Detail = "dns", err.Error()
	}
	return r
}

// probeTLS handshakes with the group's settings and checks the chain and
// name separately, so a certificate problem shows even when the group
// skips verification.
func probeTLS(ctx context.Context, address string, cfg *tls.Config, timeout time.Duration) TLSInfo {
	info := TLSInfo{Done: true, SkipVerify: cfg.InsecureSkipVerify}
	c := cfg.Clone()
	c.InsecureSkipVerify = true
	if c.ServerName == "" {
		c.ServerName = hostOf(address)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", address)
	if err != nil {
		info.HandshakeErr = err.Error()
		return info
	}
	defer raw.Close()
	conn := tls.Client(raw, c)
	if err := conn.HandshakeContext(ctx); err != nil {
		info.HandshakeErr = err.Error()
		return info
	}
	st := conn.ConnectionState()
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
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: c.ServerName, Roots: cfg.RootCAs, Intermediates: inter}); err != nil {
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
// (RFC 9112 §4, §5, §6).
func probeConformance(ctx context.Context, address, path string, cfg *tls.Config, timeout time.Duration) Conformance {
	r := Conformance{Done: true, Path: path}
	c, err := dialFor(ctx, address, cfg, timeout)
	if err != nil {
		r.Done, r.Err = false, err.Error()
		return r
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: fulcrum-doctor\r\nAccept: */*\r\nConnection: close\r\n\r\n", path, address)
	br := bufio.NewReaderSize(c, 4096)
	var head []byte
	for len(head) < maxHead {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if len(head) == 0 {
				r.Done, r.Err = false, "no response: "+err.Error()
				return r
			}
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

// probeKeepAlive sends one keep-alive GET, reads the whole response, then
// waits up to limit for the target to close the idle connection.
func probeKeepAlive(ctx context.Context, address, path string, cfg *tls.Config, limit time.Duration) KeepAlive {
	k := KeepAlive{Done: true, Limit: limit}
	c, err := dialFor(ctx, address, cfg, 10*time.Second)
	if err != nil {
		k.Done, k.Err = false, err.Error()
		return k
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: fulcrum-doctor\r\n\r\n", path, address)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		k.Done, k.Err = false, err.Error()
		return k
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		k.Err = "the target answered Connection: close"
		k.IdleClose = time.Nanosecond
		return k
	}
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
