package target

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// Dialer opens new connections to targets in three phases, DNS, connect and
// TLS, and reports a failure as a *failure.AttemptError naming its phase.
// Host names are resolved on every dial, so DNS changes are followed.
type Dialer struct {
	// Timeout bounds DNS plus connect, and separately the TLS handshake
	// (ALB's 10 s connect and handshake timeouts).
	Timeout time.Duration
	// TLS, when set, makes the dialer speak TLS. ServerName defaults to the
	// target's host.
	TLS *tls.Config
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver *net.Resolver
}

// Dial connects to address (host:port). ctx cancels every phase.
func (d *Dialer) Dial(ctx context.Context, address string) (net.Conn, error) {
	return d.DialVia(ctx, address, nil, nil)
}

// DialVia is Dial with the connect phase done by connect (an event loop's
// dialer; nil: net.Dialer) and a host name's lookup run through block,
// which runs its function where it may wait on the resolver's goroutines
// (nil: in place). The errors are Dial's.
func (d *Dialer) DialVia(ctx context.Context, address string, connect func(ctx context.Context, network, addr string) (net.Conn, error), block func(func())) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &failure.AttemptError{Phase: failure.PhaseConnect, Target: address, Err: err}
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, &failure.AttemptError{Phase: failure.PhaseConnect, Target: address, Err: err}
	}
	dctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	ip, err := netip.ParseAddr(host)
	if err != nil {
		r := d.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		var ips []netip.Addr
		lookup := func() { ips, err = r.LookupNetIP(dctx, "ip", host) }
		if block != nil {
			block(lookup)
		} else {
			lookup()
		}
		if err != nil {
			return nil, &failure.AttemptError{Phase: failure.PhaseDNS, Target: address, Err: err}
		}
		ip = ips[0].Unmap()
	}
	if connect == nil {
		var nd net.Dialer
		connect = nd.DialContext
	}
	conn, err := connect(dctx, "tcp", netip.AddrPortFrom(ip, uint16(pn)).String())
	if err != nil {
		return nil, &failure.AttemptError{Phase: failure.PhaseConnect, Target: address, Err: err}
	}
	if d.TLS == nil {
		return conn, nil
	}
	cfg := d.TLS
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	tctx, tcancel := context.WithTimeout(ctx, d.Timeout)
	defer tcancel()
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(tctx); err != nil {
		conn.Close()
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			err = fmt.Errorf("tls handshake: %w", context.Cause(tctx))
		}
		return nil, &failure.AttemptError{Phase: failure.PhaseTLS, Target: address, Err: err}
	}
	return tc, nil
}
