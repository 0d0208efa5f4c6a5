package stickiness

import (
	"strings"
	"testing"
	"time"
)

func TestSealOpen(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	a, _ := New([]byte("0123456789abcdef0123456789abcdef"))
	b, _ := New([]byte("0123456789abcdef0123456789abcdef"))
	other, _ := New([]byte("another key of at least 32 bytes!!"))
	v := a.Seal(LBCookie, "web", "10.0.0.7:8080", now.Add(time.Hour))
	if strings.Contains(v, "10.0.0.7") {
		t.Fatalf("cookie %q shows the address in clear", v)
	}
	g, addr, err := b.Open(LBCookie, v, now)
	if err != nil || g != "web" || addr != "10.0.0.7:8080" {
		t.Fatalf("Open by an instance with the same key = %q %q %v", g, addr, err)
	}
	if _, _, err := other.Open(LBCookie, v, now); err != ErrInvalid {
		t.Fatalf("Open with another key: err = %v, want ErrInvalid", err)
	}
	if _, _, err := a.Open(AppCookie, v, now); err != ErrInvalid {
		t.Fatalf("Open under another cookie name: err = %v, want ErrInvalid", err)
	}
	if _, _, err := a.Open(LBCookie, v, now.Add(2*time.Hour)); err != ErrInvalid {
		t.Fatalf("Open after expiry: err = %v, want ErrInvalid", err)
	}
	if _, _, err := a.Open(LBCookie, v[:len(v)-2]+"AA", now); err != ErrInvalid {
		t.Fatalf("Open of a tampered value: err = %v, want ErrInvalid", err)
	}
	if _, _, err := a.Open(LBCookie, "%%%", now); err != ErrInvalid {
		t.Fatalf("Open of garbage: err = %v, want ErrInvalid", err)
	}
}
