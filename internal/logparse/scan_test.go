package logparse

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestScanner(t *testing.T) {
	s := NewScanner([]byte(`a  "b c" "d "e" f" "unterminated g`))
	var got []string
	for {
		f, ok := s.Next()
		if !ok {
			break
		}
		got = append(got, string(f))
	}
	want := []string{"a", "b c", `d "e`, `f"`, "unterminated g"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
}

func TestHelpers(t *testing.T) {
	for in, want := range map[string]time.Duration{"0.001": time.Millisecond, "-1": -1, "-": -1, "x": -1, "4.205": 4205 * time.Millisecond} {
		if got := Seconds([]byte(in)); got != want {
			t.Errorf("Seconds(%q) = %v, want %v", in, got, want)
		}
	}
	for in, want := range map[string]time.Duration{"30": 30 * time.Millisecond, "+5": 5 * time.Millisecond, "-1": -1} {
		if got := Millis([]byte(in)); got != want {
			t.Errorf("Millis(%q) = %v, want %v", in, got, want)
		}
	}
	for in, want := range map[string][2]string{
		"GET http://x:80/a b HTTP/1.1": {"GET", "http://x:80/a b"},
		"- - - ":                       {"", ""},
		"- http://h:80- -":             {"", "http://h:80-"},
		"GET /x HTTP/1.0 ":             {"GET", "/x"},
		"SSTP_DUPLEX_POST /sra_{BA195980} HTTP/1.1": {"SSTP_DUPLEX_POST", "/sra_{BA195980}"},
	} {
		m, u := SplitRequest([]byte(in))
		if m != want[0] || u != want[1] {
			t.Errorf("SplitRequest(%q) = %q %q, want %q %q", in, m, u, want[0], want[1])
		}
	}
	if Status([]byte("-")) != 0 || Status([]byte("502")) != 502 || Dash([]byte("-")) != "" {
		t.Error("Status or Dash")
	}
}
