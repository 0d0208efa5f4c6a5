//lint:file-ignore SA1019 golang.org/x/net/http2 is marked deprecated for net/http's bundled copy, which exports no Framer: reading the target's SETTINGS frame needs x/net's.

package doctor

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// H2Info is what doctor learned by speaking HTTP/2 to a target of an
// HTTP2 or GRPC target group: the ALPN result on TLS, the target's first
// SETTINGS frame (RFC 9113 §6.5) and, for GRPC groups, the standard
// health service's answer
// (https://github.com/grpc/grpc/blob/master/doc/health-checking.md).
type H2Info struct {
	Done bool
	// Version is the group's protocol_version, HTTP2 or GRPC.
	Version string
	// TLS is true for an https group; ALPN is the protocol the target
	// selected ("" when it selected none).
	TLS  bool
	ALPN string
	// Settings is true once the target's SETTINGS frame was read; the
	// four values are what it sent, or the RFC 9113 §6.5.2 initial
	// value where it sent none. MaxConcurrentStreams and
	// MaxHeaderListSize are 0 when unlimited (not sent).
	Settings             bool
	MaxConcurrentStreams uint32
	InitialWindowSize    uint32
	MaxFrameSize         uint32
	MaxHeaderListSize    uint32
	// HTTP1 is the first line the target sent when it answered the
	// HTTP/2 client preface in HTTP/1.x: it does not speak h2c.
	HTTP1 string
	// Err is why the HTTP/2 exchange failed, Cause its catalogue entry;
	// both empty when it succeeded.
	Err   string
	Cause string
	// Health is the grpc.health.v1.Health/Check answer of a GRPC group's
	// target: SERVING, NOT_SERVING, SERVICE_UNKNOWN, UNKNOWN, or
	// UNIMPLEMENTED when the target has no health service; "" when not
	// asked. HealthCode is the call's gRPC status code, HealthErr the
	// failed call's message.
	Health     string
	HealthCode codes.Code
	HealthErr  string
}

// OK reports whether the HTTP/2 exchange succeeded.
func (h H2Info) OK() bool { return h.Done && h.Settings && h.Cause == "" }

// h2Settings are the SETTINGS doctor sends: Go's and grpc-go's defaults
// are larger, but a probe needs none of it.
var h2Settings = []http2.Setting{{ID: http2.SettingEnablePush, Val: 0}}

// probeH2 speaks HTTP/2 to address as traffic of the group would: TLS
// with ALPN h2 (offering http/1.1 too, to show what the target prefers)
// on https groups, h2c with prior knowledge (RFC 9113 §3.3) otherwise.
// It writes the client preface and its SETTINGS and reads frames until
// the target's first SETTINGS frame. For GRPC groups it then calls
// grpc.health.v1.Health/Check for the server's overall health.
func probeH2(ctx context.Context, tc config.TargetGroup, address string, tlsCfg *tls.Config, timeout time.Duration) H2Info {
	info := H2Info{Done: true, Version: tc.Version(), TLS: tlsCfg != nil}
	var cfg *tls.Config
	if tlsCfg != nil {
		cfg = tlsCfg.Clone()
		cfg.InsecureSkipVerify = true // the TLS probe reports verification
		cfg.NextProtos = []string{http2.NextProtoTLS, "http/1.1"}
	}
	c, err := (&target.Dialer{Timeout: timeout, TLS: cfg}).Dial(ctx, address)
	if err != nil {
		info.Err, info.Cause = err.Error(), failure.CauseOf(failure.Classify(err).Type, false)
		return info
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	c.SetDeadline(time.Now().Add(timeout))
	if tconn, ok := c.(*tls.Conn); ok {
		info.ALPN = tconn.ConnectionState().NegotiatedProtocol
		if info.ALPN != http2.NextProtoTLS {
			info.Cause = failure.CauseH2NotNegotiated
			info.Err = fmt.Sprintf("offered ALPN h2, http/1.1; the target selected %s", alpnName(info.ALPN))
			return info
		}
	}
	readSettings(c, &info)
	if info.OK() && info.Version == config.ProtocolGRPC {
		probeGRPCHealth(ctx, address, cfg, timeout, &info)
	}
	return info
}

// readSettings writes the client preface and an empty SETTINGS frame,
// then reads the target's frames until its first non-ACK SETTINGS frame
// (RFC 9113 §3.4: the server's preface). An answer that starts with
// "HTTP/" is an HTTP/1.x server reading the preface as a request.
func readSettings(c net.Conn, info *H2Info) {
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		info.Err, info.Cause = "writing the HTTP/2 client preface: "+err.Error(), failure.CauseTargetClosed
		return
	}
	br := bufio.NewReader(c)
	fr := http2.NewFramer(c, br)
	if err := fr.WriteSettings(h2Settings...); err != nil {
		info.Err, info.Cause = "writing SETTINGS: "+err.Error(), failure.CauseTargetClosed
		return
	}
	if head, err := br.Peek(5); err == nil && bytes.HasPrefix(head, []byte("HTTP/")) {
		line, _ := br.ReadString('\n')
		info.HTTP1 = strings.TrimSpace(line)
		info.Cause = failure.CauseH2ProtocolError
		info.Err = fmt.Sprintf("the target answered the HTTP/2 client preface with %q: it speaks HTTP/1.x only on this port", info.HTTP1)
		return
	}
	for range 16 {
		f, err := fr.ReadFrame()
		if err != nil {
			info.Err = "reading the target's SETTINGS: " + err.Error()
			info.Cause = failure.CauseH2ProtocolError
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				info.Cause = failure.CauseTargetResponseTimeout
			} else if err == io.EOF || err == io.ErrUnexpectedEOF {
				info.Cause = failure.CauseTargetClosed
			}
			return
		}
		sf, ok := f.(*http2.SettingsFrame)
		if !ok || sf.IsAck() {
			continue
		}
		info.Settings = true
		info.InitialWindowSize, info.MaxFrameSize = 65535, 16384 // RFC 9113 §6.5.2
		sf.ForeachSetting(func(s http2.Setting) error {
			switch s.ID {
			case http2.SettingMaxConcurrentStreams:
				info.MaxConcurrentStreams = s.Val
			case http2.SettingInitialWindowSize:
				info.InitialWindowSize = s.Val
			case http2.SettingMaxFrameSize:
				info.MaxFrameSize = s.Val
			case http2.SettingMaxHeaderListSize:
				info.MaxHeaderListSize = s.Val
			}
			return nil
		})
		fr.WriteSettingsAck()
		fr.WriteGoAway(0, http2.ErrCodeNo, nil)
		return
	}
	info.Err, info.Cause = "no SETTINGS frame among the target's first 16 frames", failure.CauseH2ProtocolError
}

// probeGRPCHealth calls grpc.health.v1.Health/Check with an empty
// service name on a connection of its own.
func probeGRPCHealth(ctx context.Context, address string, cfg *tls.Config, timeout time.Duration, info *H2Info) {
	creds := insecure.NewCredentials()
	if cfg != nil {
		cfg = cfg.Clone()
		cfg.NextProtos = []string{http2.NextProtoTLS}
		creds = credentials.NewTLS(cfg)
	}
	cc, err := grpc.NewClient("passthrough:///"+address, grpc.WithTransportCredentials(creds), grpc.WithUserAgent("fulcrum-doctor"))
	if err != nil {
		info.Health, info.HealthCode, info.HealthErr = "error", codes.Internal, err.Error()
		return
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		st := status.Convert(err)
		info.HealthCode, info.HealthErr = st.Code(), st.Message()
		info.Health = strings.ToUpper(st.Code().String())
		if st.Code() == codes.Unimplemented {
			info.Health = "UNIMPLEMENTED"
		}
		return
	}
	info.Health, info.HealthCode = r.GetStatus().String(), codes.OK
}

func alpnName(p string) string {
	if p == "" {
		return "none (the target offers no ALPN protocol)"
	}
	return p
}

// settingsText is the SETTINGS for display.
func (h H2Info) settingsText() string {
	lim := func(v uint32) string {
		if v == 0 {
			return "unlimited"
		}
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("MAX_CONCURRENT_STREAMS=%s INITIAL_WINDOW_SIZE=%d MAX_FRAME_SIZE=%d MAX_HEADER_LIST_SIZE=%s",
		lim(h.MaxConcurrentStreams), h.InitialWindowSize, h.MaxFrameSize, lim(h.MaxHeaderListSize))
}

// recordH2 adds the HTTP/2 probes to the report: h2-alpn for TLS
// targets, h2-settings, and grpc-health for GRPC groups.
func recordH2(tg, addr string, h H2Info, addProbe func(Probe)) {
	if h.TLS {
		outcome := "h2"
		if h.ALPN != http2.NextProtoTLS {
			outcome = "not-negotiated"
		}
		addProbe(Probe{Kind: "h2-alpn", TargetGroup: tg, Target: addr, Address: addr, Outcome: outcome, Detail: "selected " + alpnName(h.ALPN)})
		if h.ALPN != http2.NextProtoTLS {
			return
		}
	}
	if h.Settings {
		addProbe(Probe{Kind: "h2-settings", TargetGroup: tg, Target: addr, Address: addr, Outcome: "ok", Detail: h.settingsText()})
	} else {
		addProbe(Probe{Kind: "h2-settings", TargetGroup: tg, Target: addr, Address: addr, Outcome: "error", Detail: h.Err})
	}
	if h.Health != "" {
		detail := fmt.Sprintf("grpc.health.v1.Health/Check: %s (gRPC code %d %s)", h.Health, h.HealthCode, h.HealthCode)
		if h.HealthErr != "" {
			detail += ": " + h.HealthErr
		}
		addProbe(Probe{Kind: "grpc-health", TargetGroup: tg, Target: addr, Address: addr, Outcome: strings.ToLower(h.Health), Detail: detail})
	}
}

// diagnoseH2 turns the HTTP/2 probe into findings: every failed
// exchange gives an error naming the mismatch between the target and
// the group's protocol_version; a gRPC target whose health service says
// NOT_SERVING gives an error, a missing health service a note.
func diagnoseH2(ev *Evidence) []Finding {
	h := ev.H2
	if !h.Done {
		return nil
	}
	mode := "h2c with prior knowledge"
	if h.TLS {
		mode = "TLS with ALPN h2"
	}
	var out []Finding
	switch {
	case h.Cause == failure.CauseH2NotNegotiated:
		out = append(out, finding(h.Cause, SeverityError, ev,
			fmt.Sprintf("target group protocol_version %s speaks %s, but %s did not negotiate h2: %s", h.Version, mode, ev.Target, h.Err),
			fmt.Sprintf("openssl s_client -alpn h2 -connect %s; enable HTTP/2 on the target (nginx: listen ... ssl; http2 on;) or set protocol_version: HTTP1.", ev.Target)))
		return out
	case h.HTTP1 != "":
		out = append(out, finding(h.Cause, SeverityError, ev,
			fmt.Sprintf("target group protocol_version %s speaks %s, but %s answered the HTTP/2 preface with %q: it speaks HTTP/1.1 only", h.Version, mode, ev.Target, h.HTTP1),
			fmt.Sprintf("curl -v --http2-prior-knowledge http://%s/ shows it; serve h2c on the target (Go: http.Server Protocols with UnencryptedHTTP2; nginx: listen ... http2) or set protocol_version: HTTP1.", ev.Target)))
		return out
	case !h.OK():
		id := h.Cause
		if id == "" {
			id = failure.CauseH2ProtocolError
		}
		out = append(out, finding(id, SeverityError, ev,
			fmt.Sprintf("HTTP/2 (%s, protocol_version %s) to %s failed: %s", mode, h.Version, ev.Target, h.Err), ""))
		return out
	}
	switch h.Health {
	case "", "SERVING":
	case "NOT_SERVING", "SERVICE_UNKNOWN", "UNKNOWN":
		out = append(out, finding(failure.CauseHealthCheckStatus, SeverityError, ev,
			fmt.Sprintf("grpc.health.v1.Health/Check on %s answered %s (gRPC code %d): the server says it cannot serve", ev.Target, h.Health, h.HealthCode),
			fmt.Sprintf("grpcurl -plaintext %s grpc.health.v1.Health/Check; the server sets its own status (grpc-go health.Server.SetServingStatus).", ev.Target)))
	case "UNIMPLEMENTED":
		if ev.Check.Path == "/grpc.health.v1.Health/Check" {
			out = append(out, finding(failure.CauseHealthCheckStatus, SeverityError, ev,
				fmt.Sprintf("the health check calls grpc.health.v1.Health/Check, but %s has no health service (gRPC code 12 UNIMPLEMENTED)", ev.Target),
				"Register the standard health service on the target (grpc-go: healthpb.RegisterHealthServer), or check another method with matcher {grpc_code: \"12\"}."))
		}
	default:
		out = append(out, finding(failure.CauseHealthCheckStatus, SeverityError, ev,
			fmt.Sprintf("grpc.health.v1.Health/Check on %s failed: gRPC code %d %s: %s", ev.Target, h.HealthCode, h.HealthCode, h.HealthErr), ""))
	}
	return out
}
