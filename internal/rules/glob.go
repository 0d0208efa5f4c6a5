package rules

import "strings"

// pattern is one compiled condition value with ALB's wildcards: '*'
// matches zero or more characters, '?' exactly one, and '\*', '\?' and
// '\\' match the literal character (AWS, "Listener rules for your
// Application Load Balancer", condition types). Patterns without
// wildcards and patterns of the form "prefix*" or "*suffix" are compared
// directly; the rest run a backtracking matcher. Matching allocates
// nothing.
type pattern struct {
	kind int
	lit  string // the literal part for exact, prefix and suffix kinds
	raw  string // the full pattern for the glob kind
	fold bool   // ASCII case-insensitive
}

const (
	kindExact = iota
	kindPrefix
	kindSuffix
	kindAny
	kindGlob
)

// compilePattern compiles v; fold makes the comparison case-insensitive.
func compilePattern(v string, fold bool) pattern {
	p := pattern{raw: v, fold: fold}
	hasEscape := strings.IndexByte(v, '\\') >= 0
	wild := strings.IndexAny(v, "*?")
	switch {
	case v == "*":
		p.kind = kindAny
	case hasEscape:
		p.kind = kindGlob
	case wild < 0:
		p.kind, p.lit = kindExact, v
	case wild == len(v)-1 && v[wild] == '*':
		p.kind, p.lit = kindPrefix, v[:wild]
	case wild == 0 && v[0] == '*' && !strings.ContainsAny(v[1:], "*?"):
		p.kind, p.lit = kindSuffix, v[1:]
	default:
		p.kind = kindGlob
	}
	return p
}

func (p *pattern) match(s string) bool {
	switch p.kind {
	case kindAny:
		return true
	case kindExact:
		return len(s) == len(p.lit) && eqStr(s, p.lit, p.fold)
	case kindPrefix:
		return len(s) >= len(p.lit) && eqStr(s[:len(p.lit)], p.lit, p.fold)
	case kindSuffix:
		return len(s) >= len(p.lit) && eqStr(s[len(s)-len(p.lit):], p.lit, p.fold)
	}
	return glob(p.raw, s, p.fold)
}

func eqStr(a, b string, fold bool) bool {
	if !fold {
		return a == b
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// glob matches s against p with '*', '?' and backslash escapes. It keeps
// only the last star as a backtracking point, so it runs in O(len(p) *
// len(s)) at worst and never recurses.
func glob(p, s string, fold bool) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		if px < len(p) {
			c := p[px]
			switch {
			case c == '*':
				starP, starS = px, sx
				px++
				continue
			case c == '?':
				px++
				sx++
				continue
			case c == '\\' && px+1 < len(p):
				if eqByte(p[px+1], s[sx], fold) {
					px += 2
					sx++
					continue
				}
			default:
				if eqByte(c, s[sx], fold) {
					px++
					sx++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		sx, px = starS, starP+1
	}
	for px < len(p) && p[px] == '*' {
		px++
	}
	return px == len(p)
}

func eqByte(a, b byte, fold bool) bool {
	if fold {
		return lower(a) == lower(b)
	}
	return a == b
}
