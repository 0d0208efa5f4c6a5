package rules

import (
	"math/bits"
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
// order, and the first that matches wins, as on ALB (AWS, "Listener
// rules for your Application Load Balancer": rules are evaluated in
// priority order, lowest value first).

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
	// small holds sets as a list when there are few keys, where a scan
	// is cheaper than hashing.
	small []keySet
	// byByte holds sets by a one-byte key (index 256 for the key "" or
	// "v6"), for the path and source dimensions.
	byByte *[257]bitset
}

type keySet struct {
	key string
	set bitset
}

// smallKeys is how many keys a dimension scans instead of hashing.
const smallKeys = 8

// lookup returns the set of key and whether the key is indexed.
func (d *dim) lookup(key string) (bitset, bool) {
	if d.small != nil {
		for i := range d.small {
			if d.small[i].key == key {
				return d.small[i].set, true
			}
		}
		return nil, false
	}
	s, ok := d.sets[key]
	return s, ok
}

// byteSet returns the set of a one-byte key i (256 for "" or "v6").
func (d *dim) byteSet(i int) bitset {
	if s := d.byByte[i]; s != nil {
		return s
	}
	return d.other
}

// useBytes turns d's keys (one byte, "" or "v6") into an array.
func (d *dim) useBytes() *dim {
	if d == nil {
		return nil
	}
	d.byByte = new([257]bitset)
	for k, b := range d.sets {
		i := 256
		if len(k) == 1 {
			i = int(k[0])
		}
		d.byByte[i] = b
	}
	return d
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
	ix.path = newDim(rules, words, PathPattern, "", pathKeys).useBytes()
	ix.method = newDim(rules, words, HTTPRequestMethod, "", methodKeys)
	ix.query = newDim(rules, words, QueryString, "", queryKeys)
	ix.source = newDim(rules, words, SourceIP, "", sourceKeys).useBytes()
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
		d.small = append(d.small, keySet{k, b})
	}
	if len(d.small) > smallKeys {
		d.small = nil
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

// and narrows cand to d's set for key.
func (d *dim) and(cand []uint64, key string) {
	s, ok := d.lookup(key)
	if !ok {
		s = d.other
	}
	andSet(cand, s)
}

func andSet(cand []uint64, s bitset) {
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
	if ix.method.useful(cand) {
		ix.method.and(cand, in.r.Method)
	}
	if ix.host.useful(cand) {
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
	if ix.path.useful(cand) {
		in.loadPath()
		k := 256
		if len(in.path) >= 2 {
			k = int(in.path[1])
		}
		andSet(cand, ix.path.byteSet(k))
	}
	for _, d := range ix.headers {
		if !d.useful(cand) {
			continue
		}
		a := acc[:len(cand)]
		copy(a, d.other)
		for _, f := range in.r.Header {
			if !strings.EqualFold(f.Name, d.header) {
				continue
			}
			v := f.Value
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
	if ix.source.useful(cand) {
		switch k := sourceOctet(in.r.RemoteAddr); {
		case k >= 0:
			andSet(cand, ix.source.byteSet(k))
		case k == keyNoAddr:
			andSet(cand, ix.source.other)
		default:
			in.loadSource()
			switch {
			case in.src.Is4():
				andSet(cand, ix.source.byteSet(int(in.src.As4()[0])))
			case in.src.IsValid():
				andSet(cand, ix.source.byteSet(256))
			default: // no address: only rules without source_ip remain
				andSet(cand, ix.source.other)
			}
		}
	}
	if ix.query.useful(cand) {
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

const (
	keyNoAddr = -1 // the remote address cannot parse
	keyParse  = -2 // parse the address in full
)

// sourceOctet reads the source dimension's key without parsing the whole
// remote address: for "d.d.d.d:port" the first octet, which is that of
// any address netip.ParseAddrPort could return for it. A bracketed
// address ("[v6]:port", possibly IPv4-mapped) returns keyParse; anything
// else cannot be an ip:port and returns keyNoAddr.
func sourceOctet(s string) int {
	if s != "" && s[0] == '[' {
		return keyParse
	}
	v := 0
	for i := 0; i < len(s) && i < 4; i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			v = v*10 + int(c-'0')
		case c == '.' && i > 0 && v <= 255:
			return v
		default:
			return keyNoAddr
		}
	}
	return keyNoAddr
}

// useful reports whether d indexes any rule still in cand; when it does
// not, reading the request's key for d could remove nothing.
func (d *dim) useful(cand []uint64) bool {
	if d == nil {
		return false
	}
	for w := range cand {
		if cand[w]&^d.other[w] != 0 {
			return true
		}
	}
	return false
}

func (d *dim) orBytes(acc []uint64, key []byte) {
	var s bitset
	if d.small != nil {
		for i := range d.small {
			if d.small[i].key == string(key) {
				s = d.small[i].set
				break
			}
		}
	} else {
		s = d.sets[string(key)]
	}
	for w := range s {
		acc[w] |= s[w]
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
