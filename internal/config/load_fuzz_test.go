package config

import (
	"errors"
	"testing"
)

// FuzzLoad: any bytes give a config or an *Error, never a panic, and an
// error lists at most maxProblems+1 lines.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("a: &a [x, x]\nb: &b [*a, *a]\nlisteners: *b\n"))
	f.Add([]byte("listeners: [{name: web, address: ':0', idle_timeout: 1x}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Load(data)
		if err == nil {
			if cfg == nil {
				t.Fatal("nil config without an error")
			}
			return
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("error of type %T: %v", err, err)
		}
		if len(ce.Problems) > maxProblems+1 {
			t.Fatalf("%d problems", len(ce.Problems))
		}
	})
}
