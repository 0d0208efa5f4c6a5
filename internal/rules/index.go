package rules

import (
	"math/bits"
	"net/netip"
	"strings"
)

// The rule index narrows the rules a request can match before any
// condition runs. Each dimension (host, path, method, header, query,
// source) maps a key read once from the request to the set of rules, as a
// bitset over the priority order, that a request with that key may match:
// the rules whose indexed condition lists the key plus every rule the
// dimension does not index. A rule's conditions are all necessary, so
// dropping a rule whose indexed condition cannot match never changes the
// outcome; the survivors are still evaluated in full and in priority
// order, and the first that matches wins, as on ALB.

// maxIndexWords bounds the index to 1024 rules so that a request's
// candidate set lives on the stack; a larger table is scanned in order.
const maxIndexWords = 16

// keyBufLen is the longest key the index lowercases on the stack; a
// longer host or header value skips that dimension's filter.
const keyBufLen = 256

type bitset []uint64

func (b bitset) set(i int) { b[i/64] |= 1 << (i % 64) }

// dim is one indexed dimension.
type dim struct {
	header string            // canonical header name, for a header dimension
	sets   map[string]bitset // key → other ∪ rules listing the key
	other  bitset            // rules this dimension does not index
}

type index struct {
	words   int
	all     bitset
	host    *dim
	path    *dim
	method  *dim
	query   *dim
	source  *dim
	headers []*dim
}

// buildIndex indexes rules (already in priority order); it returns nil
// when the table is too large to index.
func buildIndex(rules []Rule) *index {
	n := len(rules)
	words := (n + 63) / 64
	if n == 0 || words > maxIndexWords {
		return nil
	}
	ix := &index{words: words, all: make(bitset, words)}
	for i := range n {
		ix.all.set(i)
	}
	ix.host = newDim(rules, words, HostHeader, "", hostKeys)
	ix.path = newDim(rules, words, PathPattern, "", pathKeys)
	ix.method = newDim(rules, words, HTTPRequestMethod, "", methodKeys)
	ix.query = newDim(rules, words, QueryString, "", queryKeys)
	ix.source = newDim(rules, words, SourceIP, "", sourceKeys)
	seen := map[string]bool{}
	for i := range rules {
		for j := range rules[i].Conditions {
			c := &rules[i].Conditions[j]
			if c.field == HTTPHeader && !seen[c.header] {
				seen[c.header] = true
				if d := newDim(rules, words, HTTPHeader, c.header, headerKeys); d != nil {
					ix.headers = append(ix.headers, d)
				}
			}
		}
	}
	return ix
}

// newDim indexes each rule by its first condition of field (and header)
// that keys returns keys for; it returns nil when no rule is indexed.
func newDim(rules []Rule, words int, field Field, header string, keys func(*Condition) []string) *dim {
	d := &dim{header: header, sets: map[string]bitset{}, other: make(bitset, words)}
	byKey := map[string]bitset{}
	indexed := false
	for i := range rules {
		var ks []string
		for j := range rules[i].Conditions {
			c := &rules[i].Conditions[j]
			if c.field != field || c.header != header {
				continue
			}
			if ks = keys(c); ks != nil {
				break
			}
		}
		if ks == nil {
			d.other.set(i)
			continue
		}
		indexed = true
		for _, k := range ks {
			if byKey[k] == nil {
				byKey[k] = make(bitset, words)
			}
			byKey[k].set(i)
		}
	}
	if !indexed {
		return nil
	}
	for k, b := range byKey {
		for w := range b {
			b[w] |= d.other[w]
		}
		d.sets[k] = b
	}
	return d
}

// lowerASCII folds A–Z as pattern matching does (never Unicode).
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lower(c)
	}
	return string(b)
}

// exactKeys returns the lowered literals of ps when every one is exact,
// else nil (the condition is not indexed).
func exactKeys(ps []pattern) []string {
	ks := make([]string, 0, len(ps))
	for i := range ps {
		if ps[i].kind != kindExact {
			return nil
		}
		ks = append(ks, lowerASCII(ps[i].lit))
	}
	return ks
}

// hostKeys keys a host_header condition by "=" and the lowered name for
// each exact value and by "." and the lowered last label for each
// wildcard value that ends in a literal ".label" (such as "*.example.com"):
// a host can only match that value when its own last label is the same.
// A value of any other shape leaves the condition unindexed.
func hostKeys(c *Condition) []string {
	ks := make([]string, 0, len(c.values))
	for i := range c.values {
		p := &c.values[i]
		if p.kind == kindExact {
			ks = append(ks, "="+lowerASCII(p.lit))
			continue
		}
		d := strings.LastIndexByte(p.raw, '.')
		if d < 0 || strings.ContainsAny(p.raw[d:], "*?\\") || strings.IndexByte(p.raw, '\\') >= 0 {
			return nil
		}
		ks = append(ks, lowerASCII(p.raw[d:]))
	}
	return ks
}

func headerKeys(c *Condition) []string { return exactKeys(c.values) }
func methodKeys(c *Condition) []string { return append([]string{}, c.methods...) }

// pathKeys keys a path pattern by the normalized path's second byte (the
// first after the leading '/'), or "" for a path shorter than two bytes;
// a pattern whose literal prefix is shorter than two bytes is not indexed.
func pathKeys(c *Condition) []string {
	ks := make([]string, 0, len(c.values))
	for i := range c.values {
		p := &c.values[i]
		lit := p.raw
		for j := 0; j < len(lit); j++ {
			if lit[j] == '*' || lit[j] == '?' || lit[j] == '\\' {
				lit = lit[:j]
				break
			}
		}
		exact := p.kind == kindExact
		switch {
		case len(lit) >= 2:
			ks = append(ks, lit[1:2])
		case exact:
			ks = append(ks, "")
		default:
			return nil
		}
	}
	return ks
}

// queryKeys keys a query_string condition whose keys and values are all
// exact by the lowered "key\x00value".
func queryKeys(c *Condition) []string {
	ks := make([]string, 0, len(c.keys))
	for i := range c.keys {
		if c.keys[i].kind != kindExact || c.values[i].kind != kindExact {
			return nil
		}
		ks = append(ks, lowerASCII(c.keys[i].lit)+"\x00"+lowerASCII(c.values[i].lit))
	}
	return ks
}

// sourceKeys keys a source_ip condition by every first IPv4 octet its
// prefixes cover, and "v6" for IPv6 prefixes.
func sourceKeys(c *Condition) []string {
	var ks []string
	for _, p := range c.prefixes {
		if !p.Addr().Is4() {
			ks = append(ks, "v6")
			continue
		}
		first := int(p.Addr().As4()[0])
		span := 1
		if p.Bits() < 8 {
			span = 1 << (8 - p.Bits())
		}
		for o := first; o < first+span && o < 256; o++ {
			ks = append(ks, string([]byte{byte(o)}))
		}
	}
	if ks == nil {
		ks = []string{} // no prefix: the condition never matches
	}
	return ks
}

// sourceKey is the source dimension's key of an address.
func sourceKey(buf *[1]byte, a netip.Addr) string {
	switch {
	case a.Is4():
		buf[0] = a.As4()[0]
		return string(buf[:])
	case a.IsValid():
		return "v6"
	}
	return "\xff\xff" // no rule's key: only rules without source_ip remain
}

// and narrows cand to d's set for key.
func (d *dim) and(cand []uint64, key string) {
	s, ok := d.sets[key]
	if !ok {
		s = d.other
	}
	for w := range cand {
		cand[w] &= s[w]
	}
}

// lowerInto folds s into buf; ok is false when s does not fit.
func lowerInto(buf *[keyBufLen]byte, s string) ([]byte, bool) {
	if len(s) > len(buf) {
		return nil, false
	}
	b := buf[:len(s)]
	for i := 0; i < len(s); i++ {
		b[i] = lower(s[i])
	}
	return b, true
}

// candidates fills cand with the rules in may match.
func (ix *index) candidates(in *input, cand []uint64) {
	copy(cand, ix.all)
	var buf [keyBufLen]byte
	var acc [maxIndexWords]uint64
	if ix.method != nil {
		ix.method.and(cand, in.r.Method)
	}
	if ix.host != nil {
		in.loadHost()
		if len(in.host) < keyBufLen {
			buf[0] = '='
			b := buf[:1+len(in.host)]
			for i := 0; i < len(in.host); i++ {
				b[1+i] = lower(in.host[i])
			}
			a := acc[:len(cand)]
			copy(a, ix.host.other)
			ix.host.orBytes(a, b)
			if d := strings.LastIndexByte(in.host, '.'); d >= 0 {
				ix.host.orBytes(a, b[1+d:])
			}
			for w := range cand {
				cand[w] &= a[w]
			}
		}
	}
	if ix.path != nil {
		in.loadPath()
		k := ""
		if len(in.path) >= 2 {
			k = in.path[1:2]
		}
		ix.path.and(cand, k)
	}
	if ix.source != nil {
		in.loadSource()
		var b1 [1]byte
		ix.source.and(cand, sourceKey(&b1, in.src))
	}
	for _, d := range ix.headers {
		vs := in.r.Header[d.header]
		a := acc[:len(cand)]
		copy(a, d.other)
		for _, v := range vs {
			if b, ok := lowerInto(&buf, v); ok {
				d.orBytes(a, b)
			} else {
				copy(a, ix.all)
				break
			}
		}
		for w := range cand {
			cand[w] &= a[w]
		}
	}
	if ix.query != nil {
		if !in.queryDone {
			in.parseQuery()
		}
		if !in.queryMore {
			a := acc[:len(cand)]
			copy(a, ix.query.other)
			for i := 0; i < in.nquery; i++ {
				kv := in.query[i]
				if len(kv.k)+1+len(kv.v) > keyBufLen {
					copy(a, ix.all)
					break
				}
				b := buf[:0]
				for j := 0; j < len(kv.k); j++ {
					b = append(b, lower(kv.k[j]))
				}
				b = append(b, 0)
				for j := 0; j < len(kv.v); j++ {
					b = append(b, lower(kv.v[j]))
				}
				ix.query.orBytes(a, b)
			}
			for w := range cand {
				cand[w] &= a[w]
			}
		}
	}
}

func (d *dim) andBytes(cand []uint64, key []byte) {
	s, ok := d.sets[string(key)]
	if !ok {
		s = d.other
	}
	for w := range cand {
		cand[w] &= s[w]
	}
}

func (d *dim) orBytes(acc []uint64, key []byte) {
	if s, ok := d.sets[string(key)]; ok {
		for w := range acc {
			acc[w] |= s[w]
		}
	}
}

// matchIndexed returns the first rule among the candidates that matches.
func (t *Table) matchIndexed(in *input) *Rule {
	var cand [maxIndexWords]uint64
	c := cand[:t.index.words]
	t.index.candidates(in, c)
	for w, word := range c {
		for word != 0 {
			i := w*64 + bits.TrailingZeros64(word)
			if in.matches(&t.rules[i]) {
				return &t.rules[i]
			}
			word &= word - 1
		}
	}
	return nil
}
