package logparse

import (
	"bytes"
	"strconv"
	"time"
)

// Scanner walks a line's space-separated fields. A field that starts with
// '"' runs to the next '"' that ends the line or is followed by a space,
// so quoted fields may hold spaces and even stray quotes (ALB requests,
// nginx referrers); the quotes are not part of the field.
type Scanner struct {
	b []byte
	i int
}

// NewScanner returns a scanner over line.
func NewScanner(line []byte) Scanner { return Scanner{b: line} }

// Next returns the next field and whether there was one. Runs of spaces
// separate fields.
func (s *Scanner) Next() ([]byte, bool) {
	for s.i < len(s.b) && s.b[s.i] == ' ' {
		s.i++
	}
	if s.i >= len(s.b) {
		return nil, false
	}
	if s.b[s.i] == '"' {
		start := s.i + 1
		for j := start; j < len(s.b); j++ {
			if s.b[j] == '"' && (j+1 == len(s.b) || s.b[j+1] == ' ') {
				s.i = j + 1
				return s.b[start:j], true
			}
		}
		// No closing quote (a request cut at the line limit): the rest.
		s.i = len(s.b)
		return s.b[start:], true
	}
	start := s.i
	j := bytes.IndexByte(s.b[start:], ' ')
	if j < 0 {
		s.i = len(s.b)
		return s.b[start:], true
	}
	s.i = start + j
	return s.b[start:s.i], true
}

// Rest returns what has not been scanned, without leading spaces.
func (s *Scanner) Rest() []byte {
	for s.i < len(s.b) && s.b[s.i] == ' ' {
		s.i++
	}
	return s.b[s.i:]
}

// Seconds parses a decimal number of seconds ("0.001", "-1"). Negative
// values, "-" and garbage give -1, meaning not applicable.
func Seconds(b []byte) time.Duration {
	if len(b) == 0 || b[0] == '-' {
		return -1
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 {
		return -1
	}
	return time.Duration(f * float64(time.Second))
}

// Millis parses a whole number of milliseconds ("30", "-1", "+5").
func Millis(b []byte) time.Duration {
	if len(b) > 0 && b[0] == '+' {
		b = b[1:]
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 {
		return -1
	}
	return time.Duration(n) * time.Millisecond
}

// Status parses a status code; "-", "0" and garbage give 0.
func Status(b []byte) int {
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 || n > 999 {
		return 0
	}
	return n
}

// SplitRequest splits a request line "METHOD URL VERSION" at its first
// and last space, so URLs holding spaces survive. "- - -" gives "", "".
func SplitRequest(b []byte) (method, url string) {
	b = bytes.TrimSpace(b)
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return string(b), ""
	}
	m := b[:i]
	rest := b[i+1:]
	if j := bytes.LastIndexByte(rest, ' '); j >= 0 {
		rest = rest[:j]
	}
	if string(m) == "-" {
		m = nil
	}
	if string(rest) == "-" {
		rest = nil
	}
	return string(m), string(rest)
}

// Dash returns s, or "" for "-".
func Dash(b []byte) string {
	if len(b) == 1 && b[0] == '-' {
		return ""
	}
	return string(b)
}
