package accesslog

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAppendTimeMatchesFormat holds the hand-written timestamp to the
// layout it replaces, for times across the range and at its edges.
func TestAppendTimeMatchesFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	times := []time.Time{
		time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(9999, 2, 28, 1, 2, 3, 4000, time.FixedZone("x", 5*3600)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for range 10000 {
		times = append(times, time.Unix(r.Int64N(1<<36), r.Int64N(1e9)))
	}
	for _, tm := range times {
		want := tm.UTC().AppendFormat(nil, "2006-01-02T15:04:05.000000Z")
		if got := appendTime(nil, tm); string(got) != string(want) {
			t.Fatalf("appendTime(%v) = %q, want %q", tm, got, want)
		}
	}
	if got := appendTime(nil, time.Time{}); string(got) != "-" {
		t.Errorf("zero time = %q, want -", got)
	}
}

// TestAppendSecondsMatchesFloat holds the integer seconds to
// strconv.AppendFloat's 'f', 3 form, ties between milliseconds included.
func TestAppendSecondsMatchesFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ds := []time.Duration{0, 1, 499999, 500000, 500001, 999999, time.Millisecond,
		1500 * time.Microsecond, 62500 * time.Microsecond, 999500 * time.Microsecond,
		time.Second, 59*time.Second + 999999999, 4000 * time.Hour}
	for range 100000 {
		ds = append(ds, time.Duration(r.Int64N(int64(100*time.Second))))
		ds = append(ds, time.Duration(r.Int64N(int64(10*time.Second)))/time.Microsecond*time.Microsecond+500*time.Microsecond)
	}
	for _, d := range ds {
		want := strconv.AppendFloat(nil, d.Seconds(), 'f', 3, 64)
		if got := appendSeconds(nil, d); string(got) != string(want) {
			t.Fatalf("appendSeconds(%d) = %q, want %q", d, got, want)
		}
	}
	if got := appendSeconds(nil, -1); string(got) != "-1" {
		t.Errorf("negative = %q, want -1", got)
	}
}

// TestAppendFieldEscapes checks the bulk copy of a clean prefix keeps
// every replacement and escape after it.
func TestAppendFieldEscapes(t *testing.T) {
	for _, c := range []struct{ in, bare, quoted string }{
		{"", "-", `"-"`},
		{"plain", "plain", `"plain"`},
		{"a b", "a_b", `"a b"`},
		{"ab\"c", "ab_c", `"ab\"c"`},
		{`x\y`, `x\y`, `"x\\y"`},
		{"tab\there", "tab_here", `"tab\x09here"`},
		{"end\x7f", "end_", `"end\x7f"`},
		{"\x00", "_", `"\x00"`},
		{"ünï", "ünï", `"ünï"`},
	} {
		if got := appendBare(nil, c.in); string(got) != c.bare {
			t.Errorf("appendBare(%q) = %q, want %q", c.in, got, c.bare)
		}
		if got := appendQuoted(nil, c.in); string(got) != c.quoted {
			t.Errorf("appendQuoted(%q) = %q, want %q", c.in, got, c.quoted)
		}
	}
}

// TestQuotedSafePrefix: the eight-bytes-at-a-time scan finds the same
// first unsafe byte as testing each byte, for every byte value at every
// position of strings up to 24 bytes, in clean and in high-bit text.
func TestQuotedSafePrefix(t *testing.T) {
	naive := func(s string) int {
		i := 0
		for i < len(s) && !quotedUnsafe(s[i]) {
			i++
		}
		return i
	}
	for _, fill := range []byte{'a', '~', ' ', 0x80, 0xff, '#', '[', 0x7e} {
		for n := range 25 {
			base := strings.Repeat(string(fill), n)
			if got, want := quotedSafePrefix(base), naive(base); got != want {
				t.Fatalf("quotedSafePrefix(%q) = %d, want %d", base, got, want)
			}
			for pos := range n {
				for c := range 256 {
					s := []byte(base)
					s[pos] = byte(c)
					if got, want := quotedSafePrefix(string(s)), naive(string(s)); got != want {
						t.Fatalf("quotedSafePrefix(%q) = %d, want %d", s, got, want)
					}
				}
			}
		}
	}
}
