// Package logformat matches log lines against a format string an
// operator configured (HAProxy's log-format, nginx's log_format, Envoy's
// format), once the vendor package has split it into literals and
// variables. Each variable's value runs to the next literal, so the
// literals between variables are what delimits them, as each vendor
// writes its lines: the variables are not escaped for the literal that
// follows (a quote inside a quoted nginx variable is written \x22,
// https://nginx.org/en/docs/http/ngx_http_log_module.html#log_format).
// A value followed by a space keeps the spaces of a list in it ("a, b"
// and "a : b", nginx's $upstream_* variables).
package logformat

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Part is one piece of a format: a literal (Var "") or a variable.
type Part struct {
	// Literal is text that must appear as it is; runs of spaces in it
	// match runs of spaces in the line.
	Literal string
	// Var is the variable's name, as the vendor package spells it
	// ("%ST", "$upstream_status", "RESPONSE_FLAGS").
	Var string
	// Optional marks a variable that may be left out with the separator
	// after it (HAProxy's %hr and %hs without captures).
	Optional bool
	// Spaces marks a variable whose value may hold spaces where the
	// format does not quote it (a date with a zone, captured headers).
	// Other values hold spaces only between quotes or brackets of the
	// format ("$request", [$time_local]), in a list ("a, b", "a : b"),
	// or as the line's last variable.
	Spaces bool
}

// Template is a compiled format: its parts with adjacent literals joined.
type Template struct {
	parts []Part
	// Vars are the variables in order; Match fills one value per Var.
	Vars []string
}

// ErrEmpty is returned by Compile for a format without variables.
var ErrEmpty = errors.New("format has no variables")

// Compile joins adjacent literals and checks that no two variables touch
// (their values could not be told apart). It returns ErrEmpty for a
// format without variables.
func Compile(parts []Part) (*Template, error) {
	t := &Template{}
	for _, p := range parts {
		if p.Var == "" {
			if p.Literal == "" {
				continue
			}
			if n := len(t.parts); n > 0 && t.parts[n-1].Var == "" {
				t.parts[n-1].Literal += p.Literal
				continue
			}
			t.parts = append(t.parts, p)
			continue
		}
		if n := len(t.parts); n > 0 && t.parts[n-1].Var != "" {
			return nil, fmt.Errorf("variables %s and %s touch: no literal tells their values apart", t.parts[n-1].Var, p.Var)
		}
		t.parts = append(t.parts, p)
		t.Vars = append(t.Vars, p.Var)
	}
	if len(t.Vars) == 0 {
		return nil, ErrEmpty
	}
	return t, nil
}

// MismatchError says where a line stopped following the format.
type MismatchError struct {
	// Want is the literal expected, or the variable whose end was not
	// found.
	Want string
	// At is the byte offset in the line.
	At int
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("line does not follow the format: want %q at byte %d", e.Want, e.At)
}

// Match splits line into the values of t.Vars, appended to vals[:0]; the
// values alias line. It returns a *MismatchError when a literal is not
// where the format puts it.
func (t *Template) Match(line []byte, vals [][]byte) ([][]byte, error) {
	var fail MismatchError
	vals, ok := t.match(line, 0, 0, vals[:0], &fail)
	if !ok {
		return vals, &fail
	}
	return vals, nil
}

// match matches parts[i:] at line[pos:]; an Optional variable is tried
// empty when its value does not lead to a match, and then the spaces
// that would have followed it are gone too (HAProxy writes one
// separator for runs of empty fields).
func (t *Template) match(line []byte, i, pos int, vals [][]byte, fail *MismatchError) ([][]byte, bool) {
	if i == len(t.parts) {
		return vals, true
	}
	p := t.parts[i]
	if p.Var == "" {
		n, ok := matchLiteral(line[pos:], p.Literal)
		if !ok {
			*fail = MismatchError{Want: p.Literal, At: pos}
			return vals, false
		}
		return t.match(line, i+1, pos+n, vals, fail)
	}
	if i+1 == len(t.parts) {
		return append(vals, line[pos:]), true
	}
	next := t.parts[i+1].Literal
	key := bytes.TrimLeft([]byte(next), " ")
	var end int
	if len(key) == 0 {
		end = valueEnd(line[pos:])
	} else {
		search := key
		if len(key) < len(next) {
			search = append([]byte{' '}, key...)
		}
		end = bytes.Index(line[pos:], search)
	}
	n := len(vals)
	if end >= 0 {
		v := bytes.TrimRight(line[pos:pos+end], " ")
		if !p.Spaces && !t.enclosed(i) && bareSpace(v) {
			*fail = MismatchError{Want: p.Var, At: pos}
		} else if out, ok := t.match(line, i+1, pos+end, append(vals, v), fail); ok {
			return out, true
		}
	} else {
		*fail = MismatchError{Want: p.Var, At: pos}
	}
	if !p.Optional {
		return vals[:n], false
	}
	// Empty: the literal after it starts here, without its leading
	// spaces when the line has none left.
	vals = append(vals[:n], line[pos:pos])
	if pos > 0 && line[pos-1] == ' ' && (pos == len(line) || line[pos] != ' ') {
		if t.parts[i+1].Literal == strings.Repeat(" ", len(t.parts[i+1].Literal)) {
			return t.match(line, i+2, pos, vals, fail)
		}
		rest := t.withLiteral(i+1, string(key))
		return rest.match(line, i+1, pos, vals, fail)
	}
	return t.match(line, i+1, pos, vals, fail)
}

// enclosed reports whether the literals around part i quote it: the one
// before ends with a double quote, an apostrophe or an opening bracket,
// and the one after starts with the same quote or the closing bracket.
func (t *Template) enclosed(i int) bool {
	if i == 0 || i+1 >= len(t.parts) {
		return false
	}
	before, after := t.parts[i-1].Literal, t.parts[i+1].Literal
	if before == "" || after == "" {
		return false
	}
	switch before[len(before)-1] {
	case '"':
		return after[0] == '"'
	case '\'':
		return after[0] == '\''
	case '[':
		return after[0] == ']'
	}
	return false
}

// bareSpace reports whether v holds a space that is not a list's
// (", " or " : ").
func bareSpace(v []byte) bool {
	for i := 0; i < len(v); i++ {
		if v[i] != ' ' {
			continue
		}
		if i > 0 && v[i-1] == ',' {
			continue
		}
		if i+2 < len(v) && v[i+1] == ':' && v[i+2] == ' ' {
			i += 2
			continue
		}
		return true
	}
	return false
}

// valueEnd returns the index of the space that ends a value followed by
// spaces only, or -1. The spaces of a list ("a, b", "a : b", as nginx
// writes its upstream variables) do not end it.
func valueEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != ' ' {
			continue
		}
		if i > 0 && b[i-1] == ',' {
			continue
		}
		if i+2 < len(b) && b[i+1] == ':' && b[i+2] == ' ' {
			i += 2
			continue
		}
		return i
	}
	return -1
}

// withLiteral returns a copy of t whose part i is lit.
func (t *Template) withLiteral(i int, lit string) *Template {
	c := &Template{parts: append([]Part(nil), t.parts...), Vars: t.Vars}
	c.parts[i].Literal = lit
	return c
}

// matchLiteral matches lit at the start of b, a run of spaces in lit
// matching a run of one or more spaces in b; n is the bytes of b used.
func matchLiteral(b []byte, lit string) (int, bool) {
	i, j := 0, 0
	for j < len(lit) {
		if lit[j] == ' ' {
			for j < len(lit) && lit[j] == ' ' {
				j++
			}
			if i >= len(b) || b[i] != ' ' {
				return 0, false
			}
			for i < len(b) && b[i] == ' ' {
				i++
			}
			continue
		}
		if i >= len(b) || b[i] != lit[j] {
			return 0, false
		}
		i++
		j++
	}
	return i, true
}
