package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/miekg/dns"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// ErrNXDomain is wrapped by a DNS provider's error when the name does not
// exist (RCODE 3, RFC 1035 §4.1.1). It keeps the last good set, as any
// other failure: a name deleted by mistake must not drain a whole group.
// A name that exists without records of the type (NODATA) is an empty
// set, and drains the targets.
var ErrNXDomain = errors.New("the name does not exist (NXDOMAIN)")

// ErrRcode is wrapped when the server answers with another error RCODE
// (SERVFAIL, REFUSED, ...).
var ErrRcode = errors.New("the DNS server answered with an error")

// DNS finds targets in A, AAAA or SRV records, resolved again at the
// answer's smallest TTL clamped to [MinTTL, MaxTTL]. For SRV (RFC 2782)
// only the records of the lowest priority are targets, weighted by
// their weight (0 counts as 1, above 1000 as 1000); each record's target
// host is resolved through the additional section or, failing that, A
// and AAAA queries to the same resolver.
type DNS struct {
	// Name is the name to resolve; a final dot is optional.
	Name string
	// Type is dns.TypeA, dns.TypeAAAA or dns.TypeSRV.
	Type uint16
	// Port is the targets' port for A and AAAA records.
	Port int
	// Weight is the weight of A and AAAA targets, 1..1000.
	Weight int
	// Resolver is the server's host:port.
	Resolver string
	// MinTTL and MaxTTL bound the re-resolve interval; a failure is
	// retried after MinTTL.
	MinTTL, MaxTTL time.Duration
	// Timeout bounds one query.
	Timeout time.Duration
}

// Source implements Provider.
func (d *DNS) Source() target.Source { return target.SourceDNS }

// String implements Provider: "dns SRV NAME via RESOLVER".
func (d *DNS) String() string {
	return fmt.Sprintf("dns %s %s via %s", dns.TypeToString[d.Type], d.Name, d.Resolver)
}

// Run implements Provider.
func (d *DNS) Run(ctx context.Context, report func(Update)) {
	for {
		eps, ttl, err := d.Resolve(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := d.MinTTL
		if err != nil {
			report(Update{Err: err})
		} else {
			report(Update{Endpoints: eps})
			wait = ClampTTL(ttl, d.MinTTL, d.MaxTTL)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// ClampTTL returns ttl within [lo, hi].
func ClampTTL(ttl, lo, hi time.Duration) time.Duration { return min(max(ttl, lo), hi) }

// Resolve queries the records once and returns the endpoints and the
// smallest TTL of the records they came from (MaxTTL when there are
// none). Errors wrap ErrNXDomain, ErrRcode or the transport's error
// (a net.Error on timeouts).
func (d *DNS) Resolve(ctx context.Context) ([]Endpoint, time.Duration, error) {
	ans, extra, err := d.query(ctx, dns.Fqdn(d.Name), d.Type)
	if err != nil {
		return nil, 0, err
	}
	ttl := d.MaxTTL
	note := func(h *dns.RR_Header) { ttl = min(ttl, time.Duration(h.Ttl)*time.Second) }
	var eps []Endpoint
	if d.Type != dns.TypeSRV {
		for _, rr := range ans {
			if ip := addrOf(rr); ip != nil {
				note(rr.Header())
				eps = append(eps, Endpoint{Address: net.JoinHostPort(ip.String(), strconv.Itoa(d.Port)), Weight: d.Weight})
			}
		}
		return dedupe(eps), ttl, nil
	}
	var srvs []*dns.SRV
	for _, rr := range ans {
		if s, ok := rr.(*dns.SRV); ok {
			srvs = append(srvs, s)
		}
	}
	if len(srvs) == 0 {
		return nil, ttl, nil
	}
	lowest := slices.MinFunc(srvs, func(a, b *dns.SRV) int { return int(a.Priority) - int(b.Priority) }).Priority
	for _, s := range srvs {
		if s.Priority != lowest || s.Target == "." { // "." : the service is not available (RFC 2782)
			continue
		}
		note(&s.Hdr)
		ips, ipTTL, err := d.hostAddrs(ctx, s.Target, extra)
		if err != nil {
			return nil, 0, fmt.Errorf("SRV target %s: %w", s.Target, err)
		}
		if len(ips) > 0 {
			ttl = min(ttl, ipTTL)
		}
		w := min(max(int(s.Weight), 1), 1000)
		for _, ip := range ips {
			eps = append(eps, Endpoint{Address: net.JoinHostPort(ip.String(), strconv.Itoa(int(s.Port))), Weight: w})
		}
	}
	return dedupe(eps), ttl, nil
}

// hostAddrs returns host's addresses from extra, else from A and AAAA
// queries, with their smallest TTL.
func (d *DNS) hostAddrs(ctx context.Context, host string, extra []dns.RR) ([]net.IP, time.Duration, error) {
	ttl := d.MaxTTL
	var ips []net.IP
	collect := func(rrs []dns.RR) {
		for _, rr := range rrs {
			if ip := addrOf(rr); ip != nil && dns.CanonicalName(rr.Header().Name) == dns.CanonicalName(host) {
				ips = append(ips, ip)
				ttl = min(ttl, time.Duration(rr.Header().Ttl)*time.Second)
			}
		}
	}
	collect(extra)
	if len(ips) > 0 {
		return ips, ttl, nil
	}
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		ans, _, err := d.query(ctx, host, qt)
		if err != nil {
			return nil, 0, err
		}
		for _, rr := range ans {
			if ip := addrOf(rr); ip != nil {
				ips = append(ips, ip)
				ttl = min(ttl, time.Duration(rr.Header().Ttl)*time.Second)
			}
		}
	}
	return ips, ttl, nil
}

// query sends one question over UDP, again over TCP when the answer is
// truncated (RFC 7766 §5), and returns the answer and additional
// sections.
func (d *DNS) query(ctx context.Context, name string, qtype uint16) ([]dns.RR, []dns.RR, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(4096, false)
	r, err := d.exchange(ctx, "udp", m)
	if err == nil && r.Truncated {
		r, err = d.exchange(ctx, "tcp", m)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", dns.TypeToString[qtype], name, err)
	}
	switch r.Rcode {
	case dns.RcodeSuccess:
		return r.Answer, r.Extra, nil
	case dns.RcodeNameError:
		return nil, nil, fmt.Errorf("%s %s: %w", dns.TypeToString[qtype], name, ErrNXDomain)
	default:
		return nil, nil, fmt.Errorf("%s %s: %s: %w", dns.TypeToString[qtype], name, dns.RcodeToString[r.Rcode], ErrRcode)
	}
}

func (d *DNS) exchange(ctx context.Context, network string, m *dns.Msg) (*dns.Msg, error) {
	c := &dns.Client{Net: network, Timeout: d.Timeout}
	qctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	r, _, err := c.ExchangeContext(qctx, m, d.Resolver)
	return r, err
}

func addrOf(rr dns.RR) net.IP {
	switch a := rr.(type) {
	case *dns.A:
		return a.A
	case *dns.AAAA:
		return a.AAAA
	}
	return nil
}

// dedupe keeps the first endpoint of each address.
func dedupe(eps []Endpoint) []Endpoint {
	seen := map[string]bool{}
	out := eps[:0]
	for _, e := range eps {
		if !seen[e.Address] {
			seen[e.Address] = true
			out = append(out, e)
		}
	}
	return out
}

// SystemResolver returns the first nameserver of /etc/resolv.conf as
// host:port.
func SystemResolver() (string, error) {
	cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return "", fmt.Errorf("no resolver set and /etc/resolv.conf unreadable: %w", err)
	}
	if len(cc.Servers) == 0 {
		return "", errors.New("no resolver set and /etc/resolv.conf has no nameserver")
	}
	return net.JoinHostPort(cc.Servers[0], cc.Port), nil
}
