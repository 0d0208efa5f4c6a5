package e2e

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The desync suite: http-desync-guardian's own test cases and classic
// request smuggling probes, sent byte for byte through the fulcrum binary
// in each desync_mitigation_mode, with a recording target that keeps the
// exact bytes it receives (docs/desync.md, docs/edge.md).

// guardianCase is one case of http-desync-guardian's tests/*.yaml, the
// table internal/desync's classifier test uses (see
// internal/desync/testdata/README.md for the source).
type guardianCase struct {
	Name    string `yaml:"name"`
	URI     string `yaml:"uri"`
	Method  string `yaml:"method"`
	Version string `yaml:"version"`
	Headers []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"headers"`
	Expected struct {
		Tier   string `yaml:"tier"`
		Reason string `yaml:"reason"`
	} `yaml:"expected"`
	file string
}

func loadGuardianCases(t *testing.T) []guardianCase {
	t.Helper()
	files, err := filepath.Glob("../internal/desync/testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no guardian cases: %v", err)
	}
	var all []guardianCase
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cs []guardianCase
		if err := yaml.Unmarshal(raw, &cs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i := range cs {
			cs[i].file = filepath.Base(f)
		}
		all = append(all, cs...)
	}
	return all
}

// framing is how a request's body is delimited, by RFC 9112 §6.3 read on
// the exact field names: what the client sends after the head.
type framing int

const (
	frameNone      framing = iota // no body
	frameLength                   // Content-Length bytes
	frameChunked                  // chunked, the final coding
	frameUndefined                // no single reading: bad or conflicting values, a final coding other than chunked
)

// exchange is one request to send and what the test may demand of it.
type exchange struct {
	name           string
	id             string
	method, target string
	version        string
	wire           []byte // the whole request, head and body
	body           []byte // the body a target must get, decoded
	frame          framing
	tier, reason   string // the expected classification; "" to not check it
	// loose marks a request the wire cannot carry as the case means it
	// (CR or LF inside a field, a field name that starts with whitespace,
	// which the wire makes obs-fold, whitespace inside the version, an
	// HTTP/0.9 request line): only the invariants are checked.
	loose bool
	// lookalikes are the client's field names that look like framing
	// fields but are not; none may reach the target.
	lookalikes []string
	// close10 is true for HTTP/1.0 without keep-alive, or Connection:
	// close: the connection closes whatever the tier.
	close10 bool
	// smuggled is a path that must never reach the target inside another
	// request (classic probes).
	smuggled string
}

// guardianExchange turns a guardian case into the bytes a client sends:
// X-Request-Id first (so every outcome is findable), a Host when the case
// has none, the case's fields as written, and the body its exact framing
// fields announce.
func guardianExchange(c guardianCase, id string) exchange {
	x := exchange{name: c.file + ": " + c.Name, id: id, method: c.Method, target: c.URI, version: c.Version,
		tier: c.Expected.Tier, reason: c.Expected.Reason}
	if x.tier == "Compliant" {
		x.tier, x.reason = "-", "-"
	}
	fields := []string{c.URI, c.Method, c.Version}
	var b bytes.Buffer
	b.WriteString(c.Method + " " + c.URI)
	if c.Version != "" {
		b.WriteString(" " + c.Version)
	}
	b.WriteString("\r\nX-Request-Id: " + id + "\r\nX-Pad: 1\r\n")
	hasHost := false
	var cls []string
	var tes []string
	keepAlive, closes := false, false
	for _, h := range c.Headers {
		fields = append(fields, h.Name, h.Value)
		sep := ": "
		if strings.HasPrefix(h.Value, " ") || strings.HasPrefix(h.Value, "\t") {
			sep = ":"
		}
		b.WriteString(h.Name + sep + h.Value + "\r\n")
		switch {
		case strings.EqualFold(h.Name, "host"):
			hasHost = true
		case strings.EqualFold(h.Name, "content-length"):
			cls = append(cls, strings.Trim(h.Value, " \t"))
		case strings.EqualFold(h.Name, "transfer-encoding"):
			tes = append(tes, h.Value)
		case strings.EqualFold(h.Name, "connection"):
			keepAlive = strings.EqualFold(strings.Trim(h.Value, " \t"), "keep-alive")
			closes = closes || strings.Contains(strings.ToLower(h.Value), "close")
		case lookalike(h.Name):
			x.lookalikes = append(x.lookalikes, h.Name)
		}
	}
	for _, f := range fields {
		if strings.ContainsAny(f, "\r\n") {
			x.loose = true
		}
	}
	for _, h := range c.Headers {
		if strings.HasPrefix(h.Name, " ") || strings.HasPrefix(h.Name, "\t") {
			x.loose = true // on the wire, a line that starts with whitespace is obs-fold (RFC 9112 §5.2)
		}
	}
	if c.URI == "" {
		x.loose = true // an empty target is a double space on the wire, which RFC 9112 §3 does not allow
	}
	if strings.ContainsAny(c.Version, " \t") {
		x.loose = true // on the wire, where the target ends and the version starts is the parser's guess
	}
	if !strings.HasPrefix(c.Version, "HTTP/1.") {
		x.loose = true // HTTP/0.9 or no version: no header section to speak of
	}
	x.close10 = closes || c.Version == "HTTP/1.0" && !keepAlive
	if !hasHost {
		b.WriteString("Host: example.com\r\n")
	}
	b.WriteString("\r\n")
	switch {
	case len(tes) > 0:
		codings := strings.Split(tes[len(tes)-1], ",")
		last := strings.ToLower(strings.Trim(strings.SplitN(codings[len(codings)-1], ";", 2)[0], " \t"))
		if last == "chunked" {
			x.frame = frameChunked
			b.WriteString("0\r\n\r\n")
		} else {
			x.frame = frameUndefined
		}
	case len(cls) > 0:
		n, err := strconv.ParseInt(cls[0], 10, 64)
		same := true
		for _, v := range cls {
			same = same && v == cls[0]
		}
		if err != nil || n < 0 || !same || strings.HasPrefix(cls[0], "+") {
			x.frame = frameUndefined
		} else {
			x.frame, x.body = frameLength, bytes.Repeat([]byte("x"), int(n))
			b.Write(x.body)
		}
	}
	x.wire = b.Bytes()
	return x
}

// lookalike reports whether a field name is not a framing field but
// reads as one once case, punctuation, whitespace and the Unicode
// look-alikes guardian lists (ſ, ı) are set aside.
func lookalike(name string) bool {
	if strings.EqualFold(name, "content-length") || strings.EqualFold(name, "transfer-encoding") {
		return false
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + 'a' - 'A')
		case r == 'ſ':
			b.WriteByte('s')
		case r == 'ı':
			b.WriteByte('i')
		}
	}
	n := b.String()
	return n == "contentlength" || n == "transferencoding"
}

// smugglingProbes are classic request smuggling attempts (CL.TE, TE.CL,
// obfuscated and duplicated framing), each with the body a target may
// see and the path that must never arrive inside another request.
func smugglingProbes() []exchange {
	probe := func(name, head, body string, frame framing, decoded, tier, reason string) exchange {
		return exchange{name: "probe: " + name, method: "POST", target: "/", version: "HTTP/1.1",
			wire: []byte(head + "\r\n" + body), body: []byte(decoded), frame: frame, tier: tier, reason: reason, smuggled: "/smuggled"}
	}
	return []exchange{
		probe("CL.TE", "POST / HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n",
			"0\r\n\r\nG", frameChunked, "", "Ambiguous", "BothTeClPresent"),
		probe("TE.CL", "POST / HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n",
			"20\r\nGET /smuggled HTTP/1.1\r\nX: 1\r\n\r\n\r\n0\r\n\r\n", frameChunked, "GET /smuggled HTTP/1.1\r\nX: 1\r\n\r\n", "Ambiguous", "BothTeClPresent"),
		probe("TE with space before colon", "POST / HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\nContent-Length: 37\r\nTransfer-Encoding : chunked\r\n",
			"0\r\n\r\nGET /smuggled HTTP/1.1\r\nX: 1\r\n\r\n", frameLength, "0\r\n\r\nGET /smuggled HTTP/1.1\r\nX: 1\r\n\r\n", "Ambiguous", "SuspiciousHeader"),
		probe("two Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\nContent-Length: 0\r\nContent-Length: 35\r\n",
			"GET /smuggled HTTP/1.1\r\nX: 1\r\n\r\n", frameUndefined, "", "Severe", "MultipleContentLength"),
		probe("chunked twice", "POST / HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
			"0\r\n\r\n", frameUndefined, "", "Severe", "MultipleTransferEncodingChunked"),
		probe("Content-Length with a plus", "POST / HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\nContent-Length: +35\r\n",
			"GET /smuggled HTTP/1.1\r\nX: 1\r\n\r\n", frameUndefined, "", "Severe", "BadContentLength"),
		probe("TE xchunked with CL", "POST / HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\nContent-Length: 35\r\nTransfer-Encoding: xchunked\r\n",
			"GET /smuggled HTTP/1.1\r\nX: 1\r\n\r\n", frameUndefined, "", "Severe", "BadTransferEncoding"),
		probe("CL.TE pipelined GET", "POST / HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n",
			"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", frameChunked, "", "Ambiguous", "BothTeClPresent"),
	}
}

// recorded is one request as the target received it.
type recorded struct {
	conn  int
	raw   []byte // head and body, exactly as received
	head  string
	body  []byte // decoded
	lines []string
}

// recorder is a raw TCP target that keeps every byte each connection
// receives, splits requests by the framing the forwarded head announces
// (leniently: it must never be the one refusing), and answers each with
// a fixed 200.
type recorder struct {
	addr   string
	mu     sync.Mutex
	reqs   []recorded
	closed map[int]bool // connections the load balancer closed
	next   int
}

const recorderAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

func startRecorder(t *testing.T) *recorder {
	r := &recorder{closed: map[int]bool{}}
	r.addr = rawServer(t, func(c net.Conn) {
		r.mu.Lock()
		r.next++
		id := r.next
		r.mu.Unlock()
		br := bufio.NewReader(c)
		for {
			rec, err := readRecorded(br)
			if len(rec.raw) > 0 {
				rec.conn = id
				r.mu.Lock()
				r.reqs = append(r.reqs, rec)
				r.mu.Unlock()
			}
			if err != nil {
				r.mu.Lock()
				r.closed[id] = true
				r.mu.Unlock()
				return
			}
			if _, err := io.WriteString(c, recorderAnswer); err != nil {
				return
			}
		}
	})
	return r
}

// readRecorded reads one request; raw holds whatever arrived, even when
// the framing is broken.
func readRecorded(br *bufio.Reader) (recorded, error) {
	var rec recorded
	var raw bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		raw.WriteString(line)
		if err != nil {
			rec.raw = raw.Bytes()
			return rec, err
		}
		l := strings.TrimRight(line, "\r\n")
		if l == "" {
			if raw.Len() == len(line) {
				continue // leading empty line
			}
			break
		}
		rec.lines = append(rec.lines, l)
	}
	rec.head = raw.String()
	cl, chunked := int64(-1), false
	for _, l := range rec.lines[1:] {
		name, value, _ := strings.Cut(l, ":")
		value = strings.Trim(value, " \t")
		switch {
		case strings.EqualFold(name, "content-length"):
			cl, _ = strconv.ParseInt(value, 10, 64)
		case strings.EqualFold(name, "transfer-encoding"):
			chunked = strings.HasSuffix(strings.ToLower(value), "chunked")
		}
	}
	var err error
	switch {
	case chunked:
		err = readChunked(br, &raw, &rec.body)
	case cl > 0:
		b := make([]byte, cl)
		_, err = io.ReadFull(br, b)
		raw.Write(b)
		rec.body = b
	}
	rec.raw = raw.Bytes()
	return rec, err
}

func readChunked(br *bufio.Reader, raw *bytes.Buffer, body *[]byte) error {
	for {
		line, err := br.ReadString('\n')
		raw.WriteString(line)
		if err != nil {
			return err
		}
		sz, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ";")
		n, err := strconv.ParseInt(strings.TrimSpace(sz), 16, 64)
		if err != nil {
			return err
		}
		if n == 0 {
			for { // trailers
				line, err := br.ReadString('\n')
				raw.WriteString(line)
				if err != nil || strings.TrimRight(line, "\r\n") == "" {
					return err
				}
			}
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return err
		}
		raw.Write(b)
		*body = append(*body, b[:n]...)
	}
}

// byID returns the requests that carried X-Request-Id id.
func (r *recorder) byID(id string) []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, q := range r.reqs {
		for _, l := range q.lines {
			if name, v, _ := strings.Cut(l, ":"); strings.EqualFold(name, "x-request-id") && strings.TrimSpace(v) == id {
				out = append(out, q)
				break
			}
		}
	}
	return out
}

func (r *recorder) isClosed(conn int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed[conn]
}

// forwardedIn reports what the desync table does with tier in mode
// (docs/desync.md): forward, and whether the client connection must
// close.
func forwardedIn(mode, tier string) (forward, closeAfter bool) {
	switch tier {
	case "-":
		return true, false
	case "Acceptable":
		return mode != "strictest", false
	case "Ambiguous":
		return mode != "strictest", mode == "defensive"
	case "Severe":
		return mode == "monitor", mode != "monitor"
	}
	return true, false
}

// findLine polls for the access log line with request id id; nil when
// none came within limit.
func (f *fulcrum) findLine(id string, limit time.Duration) []string {
	deadline := time.Now().Add(limit)
	for {
		for _, l := range f.accessLines() {
			if strings.HasSuffix(l, ` "`+id+`"`) {
				return splitALB(l)
			}
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// percentEncoded is target with bytes that may not appear in a request
// line (controls, space, non-ASCII) written as %XX, the form a proxy may
// forward them in.
func percentEncoded(target string) string {
	var b strings.Builder
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// sameUnescaped reports whether a forwarded target is the client's with
// some bytes percent-encoded (RFC 3986 §2.1), as a proxy may forward a
// target that carries bytes outside the URI grammar.
func sameUnescaped(forwarded, sent string) bool {
	f, err := url.PathUnescape(forwarded)
	return err == nil && (f == sent || f == func() string { s, _ := url.PathUnescape(sent); return s }())
}

// codingsOf returns the transfer codings a request's Transfer-Encoding
// fields list before chunked, lower case, without parameters and without
// identity (a no-op), joined with ", ": what Fulcrum forwards ahead of
// its own chunked framing. "" when there are none.
func codingsOf(wire []byte) string {
	head, _, _ := strings.Cut(string(wire), "\r\n\r\n")
	var out []string
	for _, l := range strings.Split(head, "\r\n")[1:] {
		name, v, _ := strings.Cut(l, ":")
		if !strings.EqualFold(name, "transfer-encoding") {
			continue
		}
		for _, item := range strings.Split(v, ",") {
			item, _, _ = strings.Cut(item, ";")
			switch item = strings.ToLower(strings.Trim(item, " \t")); item {
			case "", "chunked", "identity":
			default:
				out = append(out, item)
			}
		}
	}
	return strings.Join(out, ", ")
}

// checkForwarded checks one request as the target got it: one framing,
// no look-alike framing field, the client's method, target and body.
func checkForwarded(x exchange, q recorded) []string {
	var bad []string
	var cl, te int
	for _, l := range q.lines[1:] {
		name, _, _ := strings.Cut(l, ":")
		switch {
		case strings.EqualFold(name, "content-length"):
			cl++
		case strings.EqualFold(name, "transfer-encoding"):
			te++
		case lookalike(name):
			bad = append(bad, fmt.Sprintf("look-alike framing field %q reached the target", name))
		}
	}
	if want := codingsOf(x.wire); want != "" && x.frame == frameChunked && !strings.Contains(strings.ToLower(q.head), "\ntransfer-encoding: "+want+", chunked\r\n") {
		bad = append(bad, fmt.Sprintf("the codings %q before chunked did not reach the target: %q", want, short(q.raw)))
	}
	if cl > 1 || te > 1 || cl > 0 && te > 0 {
		bad = append(bad, fmt.Sprintf("%d Content-Length and %d Transfer-Encoding fields reached the target", cl, te))
	}
	for _, la := range x.lookalikes {
		if bytes.Contains([]byte(q.head), []byte("\n"+la+":")) {
			bad = append(bad, fmt.Sprintf("the client's look-alike %q reached the target", la))
		}
	}
	if x.loose || x.frame == frameUndefined {
		return bad
	}
	parts := strings.SplitN(q.lines[0], " ", 2)
	if len(parts) < 2 || parts[0] != x.method {
		bad = append(bad, fmt.Sprintf("request line %q, want method %q", q.lines[0], x.method))
	} else if rest := parts[1]; rest != x.target+" HTTP/1.1" && rest != percentEncoded(x.target)+" HTTP/1.1" &&
		rest != x.target+" "+x.version && !sameUnescaped(strings.TrimSuffix(rest, " HTTP/1.1"), x.target) {
		bad = append(bad, fmt.Sprintf("request line %q, want target %q", q.lines[0], x.target))
	} else if strings.ContainsAny(x.target, "\t\x01") && rest != x.target+" HTTP/1.1" {
		// ALB forwards an AmbiguousUri target as received, not percent-encoded.
		bad = append(bad, fmt.Sprintf("request line %q, want the target %q as received", q.lines[0], x.target))
	}
	if (x.method == "GET" || x.method == "HEAD") && len(x.body) == 0 {
		// GET/HEAD with Content-Length: 0 or an empty chunked body: no body.
	} else if !bytes.Equal(q.body, x.body) {
		bad = append(bad, fmt.Sprintf("target got body %q, want %q", q.body, x.body))
	}
	return bad
}

// runExchange sends x on a fresh connection and checks, against the
// table for mode, the answer, what reached the target, whether the
// connection closed, and the access-log line.
func runExchange(f *fulcrum, rec *recorder, mode string, x exchange) []string {
	var bad []string
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		return []string{err.Error()}
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(4 * time.Second))
	if _, err := c.Write(x.wire); err != nil {
		return []string{"write: " + err.Error()}
	}
	br := bufio.NewReader(c)
	resp, rerr := http.ReadResponse(br, &http.Request{Method: x.method})
	var body []byte
	if rerr == nil {
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	forward, closeAfter := forwardedIn(mode, x.tier)
	strict := !x.loose && x.frame != frameUndefined && !(mode == "monitor" && x.tier == "Severe")
	got := rec.byID(x.id)
	if len(got) > 1 {
		bad = append(bad, fmt.Sprintf("the target got %d requests with this id", len(got)))
	}
	for _, q := range got {
		bad = append(bad, checkForwarded(x, q)...)
	}
	if x.smuggled != "" {
		for _, q := range got {
			if bytes.Contains(q.body, []byte(x.smuggled)) && !bytes.Contains(x.body, []byte(x.smuggled)) {
				bad = append(bad, fmt.Sprintf("smuggled %s reached the target inside a body: %q", x.smuggled, short(q.raw)))
			}
		}
	}
	// An answer names the request's id; Fulcrum's own answer to a
	// request whose head it could not read carries Fulcrum's own id.
	lineID := x.id
	if rerr == nil && resp.Header.Get("X-Request-Id") != "" {
		lineID = resp.Header.Get("X-Request-Id")
	}
	if !strict {
		if rerr == nil {
			if line := f.findLine(lineID, 3*time.Second); line == nil {
				bad = append(bad, fmt.Sprintf("answered %d but no access-log line", resp.StatusCode))
			} else if !x.loose && x.tier != "" && (line[fClassification] != x.tier || line[fClassificationReason] != x.reason) {
				bad = append(bad, fmt.Sprintf("logged classification %q/%q, want %s/%s", line[fClassification], line[fClassificationReason], x.tier, x.reason))
			}
		}
		return bad
	}
	if rerr != nil {
		return append(bad, "no answer: "+rerr.Error())
	}
	if forward {
		if resp.StatusCode != 200 || string(body) != "ok" && x.method != "HEAD" {
			bad = append(bad, fmt.Sprintf("answered %d %q, want the target's 200", resp.StatusCode, body))
		}
		if len(got) != 1 {
			bad = append(bad, "the target did not get the request")
		}
	} else {
		if resp.StatusCode != 400 {
			bad = append(bad, fmt.Sprintf("answered %d, want 400", resp.StatusCode))
		}
		if len(got) != 0 {
			bad = append(bad, fmt.Sprintf("refused, yet the target got %q", short(got[0].raw)))
		}
		// Refused by the mode (http_request_denied), or by the parser for
		// the same fault (http_request_error).
		ps := resp.Header.Get("Proxy-Status")
		if resp.Header.Get("Server") != "fulcrum" || resp.Header.Get("X-Request-Id") == "" ||
			!strings.Contains(ps, "error=http_request_denied") && !strings.Contains(ps, "error=http_request_error") {
			bad = append(bad, fmt.Sprintf("own answer headers %v", resp.Header))
		}
	}
	line := f.findLine(lineID, 3*time.Second)
	switch {
	case line == nil:
		bad = append(bad, "no access-log line")
	case line[fClassification] != x.tier || line[fClassificationReason] != x.reason:
		bad = append(bad, fmt.Sprintf("logged classification %q/%q, want %s/%s", line[fClassification], line[fClassificationReason], x.tier, x.reason))
	case !forward && (line[fELBStatus] != "400" || line[fErrorReason] != "http_request_denied" && line[fErrorReason] != "http_request_error"):
		bad = append(bad, fmt.Sprintf("logged %s %s, want 400 http_request_denied or http_request_error", line[fELBStatus], line[fErrorReason]))
	}
	// Closed or kept: a kept connection serves a second request.
	c.SetDeadline(time.Now().Add(3 * time.Second))
	next := "GET /next HTTP/1.1\r\nHost: x\r\nX-Request-Id: " + x.id + "-next\r\n\r\n"
	_, werr := io.WriteString(c, next)
	nresp, nerr := http.ReadResponse(br, nil)
	kept := werr == nil && nerr == nil
	if kept {
		nresp.Body.Close()
	}
	switch {
	case closeAfter && kept:
		bad = append(bad, "the connection was kept, want closed")
	case forward && !closeAfter && !x.close10 && !kept && (x.tier == "-" || x.tier == "Acceptable"):
		bad = append(bad, fmt.Sprintf("the connection was closed, want kept (%v %v)", werr, nerr))
	}
	if forward && closeAfter && len(got) == 1 {
		deadline := time.Now().Add(3 * time.Second)
		for !rec.isClosed(got[0].conn) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !rec.isClosed(got[0].conn) {
			bad = append(bad, "the target connection was kept, want closed")
		}
	}
	return bad
}

// engineGaps are guardian cases (file: name) where Fulcrum differs from
// ALB's table today, with why. Their failures are logged, not reported;
// a case that passes in every mode must leave the list.
var engineGaps = map[string]string{}

// TestDesyncGuardianCases sends every http-desync-guardian case and the
// smuggling probes through fulcrum in each mode and checks each against
// ALB's table.
func TestDesyncGuardianCases(t *testing.T) {
	cases := loadGuardianCases(t)
	var gapsMu sync.Mutex
	gapFailed := map[string]bool{}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		for name := range engineGaps {
			if !gapFailed[name] {
				t.Errorf("%s now passes in every mode; drop it from engineGaps", name)
			}
		}
	})
	for _, mode := range []string{"monitor", "defensive", "strictest"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			rec := startRecorder(t)
			f := startFulcrum(t, fmt.Sprintf(`
access_log: {path: "-"}
listeners: [{name: web, address: "127.0.0.1:0", desync_mitigation_mode: %s, default_target_group: app}]
target_groups:
  - name: app
    health_check: {enabled: false}
    targets: [{address: %q}]
`, mode, rec.addr))
			var xs []exchange
			for i, c := range cases {
				xs = append(xs, guardianExchange(c, fmt.Sprintf("%s-g%03d", mode, i)))
			}
			for i, p := range smugglingProbes() {
				p.id = fmt.Sprintf("%s-p%02d", mode, i)
				p.wire = []byte(fmt.Sprintf(string(p.wire), p.id))
				xs = append(xs, p)
			}
			// Eight exchanges at a time: each has its own connection and id.
			bads := make([][]string, len(xs))
			var wg sync.WaitGroup
			sem := make(chan struct{}, 8)
			for i, x := range xs {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					bads[i] = runExchange(f, rec, mode, x)
				})
			}
			wg.Wait()
			failed, known := 0, 0
			for i, x := range xs {
				if bad := bads[i]; len(bad) > 0 {
					failed++
					if why, ok := engineGaps[x.name]; ok {
						known++
						t.Logf("known gap, %s: %s: %s", why, x.name, strings.Join(bad, "; "))
						continue
					}
					t.Errorf("%s (%s/%s, %q): %s", x.name, x.tier, x.reason, x.wire[:min(len(x.wire), 120)], strings.Join(bad, "; "))
				}
			}
			gapsMu.Lock()
			for i, x := range xs {
				if _, ok := engineGaps[x.name]; ok && len(bads[i]) > 0 {
					gapFailed[x.name] = true
				}
			}
			gapsMu.Unlock()
			t.Logf("%s: %d exchanges, %d failed, %d of them known gaps", mode, len(xs), failed, known)
		})
	}
}

// ownAnswer is one request Fulcrum must answer itself, and the status.
type ownAnswer struct {
	name   string
	status int
	wire   func(id string) string
	// stall sends nothing after wire: the request header timeout case.
	stall bool
	// ownID is true when the answer comes before the header section is
	// read (request line, timeout): Fulcrum's own request id, not the
	// client's, names it.
	ownID bool
}

func ownAnswers() []ownAnswer {
	xff := strings.Repeat("10.0.0.1, ", 30) + "10.0.0.2"
	return []ownAnswer{
		{"malformed", 400, func(id string) string {
			return "GET / HTTP/1.1\r\nX-Request-Id: " + id + "\r\nHost: x\r\nContent-Length: abc\r\n\r\n"
		}, false, false},
		{"header timeout", 408, func(id string) string { return "GET / HTTP/1.1\r\nX-Request-Id: " + id + "\r\nHost: x\r\n" }, true, true},
		{"body too large", 413, func(id string) string {
			return "POST / HTTP/1.1\r\nX-Request-Id: " + id + "\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
		}, false, false},
		{"URI too long", 414, func(id string) string {
			return "GET /" + strings.Repeat("a", 2000) + " HTTP/1.1\r\nX-Request-Id: " + id + "\r\nHost: x\r\n\r\n"
		}, false, true},
		{"header too large", 431, func(id string) string {
			return "GET / HTTP/1.1\r\nX-Request-Id: " + id + "\r\nHost: x\r\nCookie: " + strings.Repeat("c", 3000) + "\r\n\r\n"
		}, false, true},
		{"too many X-Forwarded-For", 463, func(id string) string {
			return "GET / HTTP/1.1\r\nX-Request-Id: " + id + "\r\nHost: x\r\nX-Forwarded-For: " + xff + "\r\n\r\n"
		}, false, false},
		{"unsupported transfer coding", 501, func(id string) string {
			return "POST / HTTP/1.1\r\nX-Request-Id: " + id + "\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
		}, false, false},
		{"unsupported version", 505, func(id string) string {
			return "GET / HTTP/2.0\r\nX-Request-Id: " + id + "\r\nHost: x\r\n\r\n"
		}, false, true},
	}
}

// TestOwnAnswers: every answer Fulcrum makes itself, on an http and an
// https listener, carries Server: fulcrum, Proxy-Status and the request
// id, and is logged, and the target never sees the request.
func TestOwnAnswers(t *testing.T) {
	certFile, keyFile := writeSelfSigned(t)
	for _, proto := range []string{"http", "https"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			rec := startRecorder(t)
			listener := `protocol: http`
			if proto == "https" {
				listener = fmt.Sprintf(`protocol: https, tls: {cert_file: %q, key_file: %q}`, certFile, keyFile)
			}
			f := startFulcrum(t, fmt.Sprintf(`
access_log: {path: "-"}
listeners: [{name: web, address: "127.0.0.1:0", %s, request_header_timeout: 1s, max_header_bytes: 2048,
  max_uri_bytes: 1024, max_request_body_bytes: 1000, default_target_group: app}]
target_groups:
  - name: app
    health_check: {enabled: false}
    targets: [{address: %q}]
`, listener, rec.addr))
			for _, a := range ownAnswers() {
				id := proto + "-own-" + strconv.Itoa(a.status)
				t.Run(strconv.Itoa(a.status), func(t *testing.T) {
					var c net.Conn
					var err error
					if proto == "https" {
						c, err = tls.Dial("tcp", f.addr, &tls.Config{InsecureSkipVerify: true})
					} else {
						c, err = net.Dial("tcp", f.addr)
					}
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(8 * time.Second))
					io.WriteString(c, a.wire(id))
					start := time.Now()
					resp, err := http.ReadResponse(bufio.NewReader(c), nil)
					if err != nil {
						t.Fatalf("%s: no answer: %v", a.name, err)
					}
					resp.Body.Close()
					if resp.StatusCode != a.status {
						t.Errorf("%s: status %d, want %d", a.name, resp.StatusCode, a.status)
					}
					if a.stall && time.Since(start) < 900*time.Millisecond {
						t.Errorf("408 after %v, before the 1s request_header_timeout", time.Since(start))
					}
					gotID := resp.Header.Get("X-Request-Id")
					if resp.Header.Get("Server") != "fulcrum" || !strings.HasPrefix(resp.Header.Get("Proxy-Status"), "fulcrum; error=") ||
						gotID == "" || !a.ownID && gotID != id {
						t.Errorf("%s: headers %v, want Server: fulcrum, Proxy-Status and X-Request-Id %s", a.name, resp.Header, id)
					}
					line := f.findLine(gotID, 5*time.Second)
					if line == nil {
						t.Fatalf("%s: not logged", a.name)
					}
					if line[fELBStatus] != strconv.Itoa(a.status) || line[0] != proto || line[fTargetStatus] != "-" {
						t.Errorf("%s: logged status %s, type %s, target status %s", a.name, line[fELBStatus], line[0], line[fTargetStatus])
					}
					if got := rec.byID(id); len(got) != 0 {
						t.Errorf("%s: the target got %q", a.name, short(got[0].raw))
					}
				})
			}
		})
	}
}

// TestTraceIDField: the ALB line's trace_id holds the X-Amzn-Trace-Id sent
// to the target, and the request id comes after ALB's fields.
func TestTraceIDField(t *testing.T) {
	rec := startRecorder(t)
	f := startFulcrum(t, fmt.Sprintf(`
access_log: {path: "-"}
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups:
  - name: app
    health_check: {enabled: false}
    targets: [{address: %q}]
`, rec.addr))
	resp, _ := get(t, http.DefaultClient, "http://"+f.addr+"/", "trace-1")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	line := f.accessLine("trace-1")
	got := rec.byID("trace-1")
	if len(got) != 1 {
		t.Fatalf("target got %d requests", len(got))
	}
	var sent string
	for _, l := range got[0].lines {
		if name, v, _ := strings.Cut(l, ":"); strings.EqualFold(name, "x-amzn-trace-id") {
			sent = strings.TrimSpace(v)
		}
	}
	if !strings.HasPrefix(sent, "Root=1-") || line[fTraceID] != sent || line[fRequestID] != "trace-1" || len(line) != fRequestID+1 {
		t.Errorf("trace_id %q (sent %q), request id %q, %d fields", line[fTraceID], sent, line[fRequestID], len(line))
	}
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key as PEM files and returns their paths.
func writeSelfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// short is b cut to 300 bytes, for messages.
func short(b []byte) []byte {
	if len(b) > 300 {
		return append(b[:300:300], "..."...)
	}
	return b
}
