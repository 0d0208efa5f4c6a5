// Package rules is a listener's compiled rule table: ALB's rule
// conditions, matched in priority order, and the action of the first rule
// that matches or the listener's default action (AWS, "Listener rules for
// your Application Load Balancer").
//
// Matching follows ALB:
//   - every condition of a rule must match, and a condition matches when
//     any of its values does;
//   - host_header is case-insensitive with '*' and '?' wildcards, compared
//     with the Host header without its port;
//   - path_pattern is case-sensitive with wildcards, compared with the
//     normalized path ("//", "." and ".." resolved), never the query;
//   - http_header names are case-insensitive and values are
//     case-insensitive wildcards, tried against every value of the header;
//   - http_request_method is an exact, case-sensitive name;
//   - query_string pairs are case-insensitive wildcards compared with the
//     percent-decoded key and value; a pair without a key matches any
//     key's value;
//   - source_ip is a list of IPv4 or IPv6 CIDRs compared with the client
//     connection's address, never X-Forwarded-For.
//
// Match allocates nothing for requests whose path needs no normalizing
// and whose query needs no percent-decoding. A table of up to 1024 rules
// is indexed by host, path, method, header, query and source address, so
// a request evaluates only the rules that can match it, still in
// priority order.
package rules

import (
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// Field is a condition type.
type Field uint8

// The condition types, named as ALB's.
const (
	HostHeader Field = iota
	PathPattern
	HTTPHeader
	HTTPRequestMethod
	QueryString
	SourceIP
)

var fieldNames = map[string]Field{
	"host_header": HostHeader, "path_pattern": PathPattern, "http_header": HTTPHeader,
	"http_request_method": HTTPRequestMethod, "query_string": QueryString, "source_ip": SourceIP,
}

// ParseField returns the Field of an ALB condition name such as
// "host_header"; ok is false for any other name.
func ParseField(s string) (Field, bool) {
	f, ok := fieldNames[s]
	return f, ok
}

// Condition is one compiled condition.
type Condition struct {
	field    Field
	header   string // canonical header name for http_header
	values   []pattern
	keys     []pattern // query_string keys, kindAny when the key is absent
	methods  []string
	prefixes []netip.Prefix
}

// QueryPair is one query_string condition value; an empty Key matches
// any key.
type QueryPair struct{ Key, Value string }

// NewCondition compiles a condition of field with values (for
// query_string, use NewQueryCondition). It returns an error naming the
// bad value for a source_ip value that is not a CIDR.
func NewCondition(field Field, header string, values []string) (Condition, error) {
	c := Condition{field: field}
	switch field {
	case HTTPRequestMethod:
		c.methods = slices.Clone(values)
	case SourceIP:
		for _, v := range values {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				return c, err
			}
			c.prefixes = append(c.prefixes, p.Masked())
		}
	case HTTPHeader:
		c.header = http.CanonicalHeaderKey(header)
		fallthrough
	default:
		for _, v := range values {
			c.values = append(c.values, compilePattern(v, field != PathPattern))
		}
	}
	return c, nil
}

// NewQueryCondition compiles a query_string condition.
func NewQueryCondition(pairs []QueryPair) Condition {
	c := Condition{field: QueryString}
	for _, p := range pairs {
		k := "*"
		if p.Key != "" {
			k = p.Key
		}
		c.keys = append(c.keys, compilePattern(k, true))
		c.values = append(c.values, compilePattern(p.Value, true))
	}
	return c
}

// Rule is one compiled rule: its priority, its conditions and the index
// of its action in the caller's action list.
type Rule struct {
	Priority   int
	Action     int
	Conditions []Condition
}

// Table is a listener's rules in priority order.
type Table struct {
	rules []Rule
	index *index // nil for a table too large to index
}

// NewTable sorts rules by priority, lowest first.
func NewTable(rules []Rule) *Table {
	rs := slices.Clone(rules)
	slices.SortStableFunc(rs, func(a, b Rule) int { return a.Priority - b.Priority })
	return &Table{rules: rs, index: buildIndex(rs)}
}

// Len returns the number of rules.
func (t *Table) Len() int { return len(t.rules) }

// Match returns the first rule, by priority, whose conditions all match r,
// or nil when none does (the default action applies).
func (t *Table) Match(r *httpmsg.Request) *Rule {
	if len(t.rules) == 0 {
		return nil
	}
	in := input{r: r}
	if t.index != nil {
		return t.matchIndexed(&in)
	}
	for i := range t.rules {
		if in.matches(&t.rules[i]) {
			return &t.rules[i]
		}
	}
	return nil
}

// input caches what several conditions read from one request.
type input struct {
	r         *httpmsg.Request
	host      string
	hostDone  bool
	path      string
	pathDone  bool
	src       netip.Addr
	srcDone   bool
	query     [maxQueryPairs]queryKV
	nquery    int
	queryDone bool
	// queryMore is true when the query has more pairs than fit in query.
	queryMore bool
}

// maxQueryPairs is how many query pairs a request's matching decodes
// once; the rest are decoded by each query_string condition.
const maxQueryPairs = 16

type queryKV struct{ k, v string }

func (in *input) matches(rule *Rule) bool {
	for i := range rule.Conditions {
		if !in.match(&rule.Conditions[i]) {
			return false
		}
	}
	return true
}

func (in *input) match(c *Condition) bool {
	switch c.field {
	case HostHeader:
		in.loadHost()
		return anyMatch(c.values, in.host)
	case PathPattern:
		in.loadPath()
		return anyMatch(c.values, in.path)
	case HTTPRequestMethod:
		return slices.Contains(c.methods, in.r.Method)
	case HTTPHeader:
		for _, f := range in.r.Header {
			if strings.EqualFold(f.Name, c.header) && anyMatch(c.values, f.Value) {
				return true
			}
		}
		return false
	case QueryString:
		if !in.queryDone {
			in.parseQuery()
		}
		for i := 0; i < in.nquery; i++ {
			if matchPair(c, in.query[i].k, in.query[i].v) {
				return true
			}
		}
		return in.queryMore && matchQuery(c, in.r.RawQuery)
	case SourceIP:
		in.loadSource()
		if !in.src.IsValid() {
			return false
		}
		for _, p := range c.prefixes {
			if p.Contains(in.src) {
				return true
			}
		}
	}
	return false
}

func (in *input) loadHost() {
	if !in.hostDone {
		in.host, in.hostDone = HostOnly(in.r.Host), true
	}
}

func (in *input) loadPath() {
	if !in.pathDone {
		in.path, in.pathDone = NormalizePath(in.r.Path), true
	}
}

func (in *input) loadSource() {
	if !in.srcDone {
		if ap, err := netip.ParseAddrPort(in.r.RemoteAddr); err == nil {
			in.src = ap.Addr().Unmap()
		}
		in.srcDone = true
	}
}

func anyMatch(ps []pattern, s string) bool {
	for i := range ps {
		if ps[i].match(s) {
			return true
		}
	}
	return false
}

// parseQuery splits and decodes the first maxQueryPairs pairs once, in
// one pass over the raw query.
func (in *input) parseQuery() {
	in.queryDone = true
	raw := in.r.RawQuery
	for start := 0; start < len(raw); {
		eq, end, esc := -1, start, false
		for ; end < len(raw) && raw[end] != '&'; end++ {
			switch raw[end] {
			case '=':
				if eq < 0 {
					eq = end
				}
			case '%', '+':
				esc = true
			}
		}
		if end > start {
			if in.nquery == maxQueryPairs {
				in.queryMore = true
				return
			}
			k, v := raw[start:end], ""
			if eq >= 0 {
				k, v = raw[start:eq], raw[eq+1:end]
			}
			if esc {
				k, v = unescape(k), unescape(v)
			}
			in.query[in.nquery] = queryKV{k, v}
			in.nquery++
		}
		start = end + 1
	}
}

func matchPair(c *Condition, k, v string) bool {
	for i := range c.keys {
		if c.keys[i].match(k) && c.values[i].match(v) {
			return true
		}
	}
	return false
}

// matchQuery reports whether any key=value pair of raw matches any of the
// condition's pairs.
func matchQuery(c *Condition, raw string) bool {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if matchPair(c, unescape(k), unescape(v)) {
			return true
		}
	}
	return false
}

// unescape percent-decodes a query component, returning s itself when it
// holds nothing to decode; a malformed escape is compared as written.
func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

// HostOnly returns a Host header's host without its port, as written
// (condition matching folds case itself).
func HostOnly(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i {
		return h[:i]
	}
	return h
}

// needsClean reports whether p holds "//" or "/." in one pass.
func needsClean(p string) bool {
	for i := 0; i+1 < len(p); i++ {
		if p[i] == '/' && (p[i+1] == '/' || p[i+1] == '.') {
			return true
		}
	}
	return false
}

// NormalizePath resolves "//", "." and ".." segments of p, keeping a
// trailing "/". It returns p itself, without allocating, when p is
// already normal.
func NormalizePath(p string) string {
	if p == "" {
		return "/"
	}
	if !needsClean(p) {
		return p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}
