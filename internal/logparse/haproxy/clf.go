package haproxy

import (
	"bytes"
	"fmt"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

// sniffCLF reports whether line is an `option httplog clf` line: a
// Common Log Format head, then the two empty quoted fields and the
// client port (HAProxy Configuration Manual §8.2.3: "%{+Q}o %{-Q}ci - -
// [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc
// %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl").
func sniffCLF(line []byte) bool {
	i := bytes.Index(line, []byte(` "" "" `))
	if i < 0 || !bytes.Contains(line[:i], []byte(" - - [")) {
		return false
	}
	rest := line[i+7:]
	return len(rest) > 0 && isDigit(rest[0])
}

// parseCLF parses an `option httplog clf` line; quoted or bare frontend,
// backend, server and state fields are both read.
func parseCLF(line []byte, e *logparse.Entry) error {
	s := logparse.NewScanner(line)
	ip, _ := s.Next()
	s.Next()
	s.Next()
	ts, _ := s.Next()
	zone, _ := s.Next()
	t, err := time.Parse("[02/Jan/2006:15:04:05 -0700]", string(ts)+" "+string(zone))
	if err != nil {
		return fmt.Errorf("haproxy clf: date %s %s: %w", ts, zone, err)
	}
	req, _ := s.Next()
	e.Method, e.URL = logparse.SplitRequest(req)
	var f [15][]byte // status bytes "" "" cp ms ft b s TR Tw Tc Tr Ta tsc
	for k := range f {
		v, ok := s.Next()
		if !ok {
			return fmt.Errorf("haproxy clf: %d fields after the request, want 15", k)
		}
		f[k] = v
	}
	e.Status = logparse.Status(f[0])
	e.Client = string(ip) + ":" + string(f[4])
	e.Time = t.UTC().Add(logparse.Millis(f[5]))
	e.Group, e.Target = string(f[7]), string(f[8])
	if e.Target == "<NOSRV>" || e.Target == "<STATS>" || e.Target == "<CACHE>" {
		e.Target = ""
	}
	e.TargetTime = logparse.Millis(f[12])
	term := f[14]
	if len(term) < 2 {
		return fmt.Errorf("haproxy clf: termination state %q", term)
	}
	if e.Status > 0 {
		e.TargetStatus = e.Status
	}
	Attribute(term[0], term[1], e)
	return nil
}
