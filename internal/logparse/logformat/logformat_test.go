package logformat

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMatch(t *testing.T) {
	tpl, err := Compile([]Part{{Var: "a"}, {Literal: " ["}, {Var: "t"}, {Literal: "] \""}, {Var: "r"}, {Literal: "\" "}, {Var: "opt", Optional: true}, {Literal: " "}, {Var: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	for line, want := range map[string][]string{
		`1.2.3.4 [now] "GET / HTTP/1.1" {cap} 200`:  {"1.2.3.4", "now", "GET / HTTP/1.1", "{cap}", "200"},
		`1.2.3.4 [now] "GET / HTTP/1.1" 200`:        {"1.2.3.4", "now", "GET / HTTP/1.1", "", "200"},
		`1.2.3.4   [now] "GET /a b HTTP/1.1" x 200`: {"1.2.3.4", "now", "GET /a b HTTP/1.1", "x", "200"},
	} {
		vals, err := tpl.Match([]byte(line), nil)
		if err != nil {
			t.Errorf("%s: %v", line, err)
			continue
		}
		got := make([]string, len(vals))
		for i, v := range vals {
			got[i] = string(v)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", line, d)
		}
	}
	var me *MismatchError
	if _, err := tpl.Match([]byte(`1.2.3.4 now "GET"`), nil); !errors.As(err, &me) {
		t.Errorf("mismatch: %v", err)
	}
	if _, err := Compile([]Part{{Var: "a"}, {Var: "b"}}); err == nil {
		t.Error("touching variables compiled")
	}
	if _, err := Compile([]Part{{Literal: "x"}}); !errors.Is(err, ErrEmpty) {
		t.Errorf("no variables: %v", err)
	}
}

func FuzzMatch(f *testing.F) {
	tpl, _ := Compile([]Part{{Var: "a"}, {Literal: " ["}, {Var: "t"}, {Literal: "] "}, {Var: "o", Optional: true}, {Literal: " "}, {Var: "s", Optional: true}, {Literal: " \""}, {Var: "r"}, {Literal: "\""}})
	f.Add([]byte(`1.2.3.4 [now] x y "GET"`))
	f.Add([]byte(`1.2.3.4 [now]  "GET"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		vals, err := tpl.Match(b, nil)
		if err == nil && len(vals) != len(tpl.Vars) {
			t.Errorf("%d values for %d variables", len(vals), len(tpl.Vars))
		}
	})
}
