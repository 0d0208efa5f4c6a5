// Package envoy parses Envoy access logs
// (https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage): the default text format, old and new, and JSON logs with the
// conventional keys (Istio's too). %RESPONSE_FLAGS% names the cause, with
// %RESPONSE_CODE_DETAILS% and %UPSTREAM_TRANSPORT_FAILURE_REASON% as
// evidence (response flags in https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage).
package envoy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

// SniffText reports whether line starts "[<RFC 3339 time>] \"".
func SniffText(line []byte) bool {
	return len(line) > 26 && line[0] == '[' && line[5] == '-' && line[11] == 'T' && bytes.Contains(line[:40], []byte("] \""))
}

// ParseText parses one default-format line.
func ParseText(line []byte, e *logparse.Entry) error {
	*e = logparse.Entry{Kind: logparse.Request, TargetTime: -1}
	end := bytes.IndexByte(line, ']')
	if len(line) == 0 || line[0] != '[' || end < 0 {
		return fmt.Errorf("envoy: no [start time]")
	}
	t, err := time.Parse(time.RFC3339Nano, string(line[1:end]))
	if err != nil {
		return fmt.Errorf("envoy: start time %q: %w", line[1:end], err)
	}
	e.Time = t
	s := logparse.NewScanner(line[end+1:])
	req, ok := s.Next()
	if !ok {
		return fmt.Errorf("envoy: no request")
	}
	e.Method, e.URL = logparse.SplitRequest(req)
	code, ok := s.Next()
	if !ok {
		return fmt.Errorf("envoy: no response code")
	}
	e.Status = logparse.Status(code)
	flags, ok := s.Next()
	if !ok {
		return fmt.Errorf("envoy: no response flags")
	}
	// Then, in the newer default, details, termination details and the
	// quoted transport failure reason; in both, the quoted XFF, user
	// agent, request id, authority and upstream host.
	// Then, in Istio's format, details, termination details and the
	// quoted transport failure reason; in both, bytes received and sent,
	// duration and the upstream service time, then the quoted XFF, user
	// agent, request id, authority and upstream host; Istio's goes on
	// with the cluster and addresses.
	var details, transport string
	var quoted []string
	var numbers [][]byte
	var afterQuoted []byte // the first bare field after the last quoted one
	seenAfter := false
	rest := s.Rest()
	for len(rest) > 0 {
		isQuoted := rest[0] == '"'
		v, ok := s.Next()
		if !ok {
			break
		}
		switch {
		case isQuoted:
			quoted = append(quoted, string(v))
			afterQuoted, seenAfter = nil, false
		case details == "" && len(numbers) == 0 && (bytes.ContainsAny(v, "{_") || string(v) == "via_upstream"):
			details = string(v)
		case len(numbers) < 4 && (len(numbers) > 0 || isNumber(v)):
			numbers = append(numbers, v)
		case len(quoted) > 0 && !seenAfter:
			afterQuoted, seenAfter = v, true
		}
		rest = s.Rest()
	}
	// Istio's format quotes six fields (the transport failure reason
	// first) and goes on with %UPSTREAM_CLUSTER%.
	if len(quoted) >= 6 && seenAfter {
		e.Group = logparse.Dash(afterQuoted)
	}
	if len(numbers) == 4 {
		e.TargetTime = logparse.Millis(numbers[3])
	}
	for i := len(quoted) - 1; i >= 0; i-- {
		if h := hostOf(quoted[i]); h != "" {
			e.Target = h
			break
		}
	}
	if len(quoted) > 5 {
		transport = logparse.Dash([]byte(quoted[0]))
	}
	Attribute(string(flags), details, transport, e)
	return nil
}

func isNumber(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// hostOf returns host:port from "10.0.0.1:80", "tcp://10.0.0.1:80" or
// "[::1]:80", or "" when v is not an address.
func hostOf(v string) string {
	if i := strings.Index(v, "://"); i >= 0 {
		v = v[i+3:]
	}
	i := strings.LastIndexByte(v, ':')
	if i <= 0 || i == len(v)-1 {
		return ""
	}
	if _, err := strconv.Atoi(v[i+1:]); err != nil {
		return ""
	}
	if strings.ContainsAny(v, " /") {
		return ""
	}
	return v
}

// longFlags maps %RESPONSE_FLAGS_LONG% names to the short flags
// (response flags, https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage).
func longFlags() map[string]string {
	return map[string]string{
		"NoHealthyUpstream": "UH", "UpstreamConnectionFailure": "UF", "UpstreamOverflow": "UO", "NoRouteFound": "NR",
		"UpstreamRetryLimitExceeded": "URX", "NoClusterFound": "NC", "DurationTimeout": "DT",
		"DownstreamConnectionTermination": "DC", "FailedLocalHealthCheck": "LH", "UpstreamRequestTimeout": "UT",
		"LocalReset": "LR", "UpstreamRemoteReset": "UR", "UpstreamConnectionTermination": "UC", "DelayInjected": "DI",
		"FaultInjected": "FI", "RateLimited": "RL", "UnauthorizedExternalService": "UAEX", "RateLimitServiceError": "RLSE",
		"InvalidEnvoyRequestHeaders": "IH", "StreamIdleTimeout": "SI", "DownstreamProtocolError": "DPE",
		"UpstreamProtocolError": "UPE", "UpstreamMaxStreamDurationReached": "UMSDR", "ResponseFromCacheFilter": "RFCF",
		"NoFilterConfigFound": "NFCF", "OverloadManagerTerminated": "OM", "DnsResolutionFailed": "DF",
		"DropOverload": "DO", "DownstreamRemoteReset": "DR", "UnconditionalDropOverload": "UDO",
	}
}

// Attribute names the cause from the response flags (short or long
// names, comma-separated), with %RESPONSE_CODE_DETAILS% and
// %UPSTREAM_TRANSPORT_FAILURE_REASON% as evidence. e.Status must be set.
func Attribute(flags, details, transport string, e *logparse.Entry) {
	fl := strings.Split(flags, ",")
	long := longFlags()
	for i, f := range fl {
		if s, ok := long[f]; ok {
			fl[i] = s
		}
	}
	has := func(f string) bool {
		for _, x := range fl {
			if x == f {
				return true
			}
		}
		return false
	}
	sig := "response flags " + flags
	if details != "" && details != "-" {
		sig += ", details " + details
	}
	if transport != "" {
		sig += ", transport failure " + transport
	}
	set := func(c string) { e.Cause, e.Signature, e.LBError = c, sig, e.Status >= 500 }
	ev := strings.ToLower(details + " " + transport)
	tlsErr := strings.Contains(ev, "tls") || strings.Contains(ev, "ssl") || strings.Contains(ev, "certificate")
	switch {
	case flags == "-" || flags == "":
		if e.Status >= 500 {
			e.TargetStatus = e.Status
			e.Cause, e.Signature = failure.CauseTarget5xx, fmt.Sprintf("%d with no response flags (the upstream's own answer)", e.Status)
		} else if e.Status > 0 {
			e.TargetStatus = e.Status
		}
	case has("DC") || has("DR"):
		set(failure.CauseClientClosed)
		e.LBError = false
	case has("NR") || has("NC") || has("FI") || has("DI") || has("RFCF"):
		// No route, or a fault or cache answer: not a backend failure.
		e.Excluded, e.Signature = true, sig+" (answered by Envoy itself: not a backend failure)"
		e.LBError = e.Status >= 500
	case has("RL") || has("UAEX") || has("IH") || has("DPE"):
		set(failure.CauseRequestDenied)
	case has("UH") || has("LH"):
		set(failure.CauseNoHealthyTargets)
	case has("DF"):
		set(failure.CauseDNSResolutionFailed)
	case has("UF") && tlsErr && strings.Contains(ev, "certificate"):
		set(failure.CauseTLSCertificateInvalid)
	case has("UF") && tlsErr:
		set(failure.CauseTLSHandshakeFailed)
	case has("UF") && (strings.Contains(ev, "_111") || strings.Contains(ev, "refused")):
		set(failure.CauseTargetNotListening)
	case has("UF") && (strings.Contains(ev, "_113") || strings.Contains(ev, "_101") || strings.Contains(ev, "unreachable") || strings.Contains(ev, "no_route")):
		set(failure.CauseTargetUnreachable)
	case has("UF"):
		set(failure.CauseTargetPortFiltered)
	case has("UO"):
		set(failure.CauseConnectionLimit)
	case has("UT") || has("DT") || has("UMSDR") || has("SI"):
		set(failure.CauseTargetResponseTimeout)
	case has("UC"):
		set(failure.CauseKeepaliveRace)
	case has("UR"):
		set(failure.CauseTargetClosed)
	case has("UPE"):
		set(failure.CauseInvalidResponse)
	default: // LR, OM, DO, UDO, URX alone, NFCF, RLSE
		set(failure.CauseLBError)
	}
}

// SniffJSON reports whether line is a JSON object with Envoy's keys.
func SniffJSON(line []byte) bool {
	return len(line) > 0 && line[0] == '{' && bytes.Contains(line, []byte(`"response_flags"`))
}

// jsonLine holds the keys Envoy JSON logs conventionally use.
type jsonLine struct {
	StartTime        string          `json:"start_time"`
	Method           string          `json:"method"`
	Path             string          `json:"path"`
	ResponseCode     json.RawMessage `json:"response_code"`
	ResponseFlags    string          `json:"response_flags"`
	Details          string          `json:"response_code_details"`
	TransportFailure string          `json:"upstream_transport_failure_reason"`
	UpstreamHost     string          `json:"upstream_host"`
	UpstreamCluster  string          `json:"upstream_cluster"`
	Client           string          `json:"downstream_remote_address"`
	// ServiceTime is x-envoy-upstream-service-time, in ms, as Istio's
	// JSON names it.
	ServiceTime json.RawMessage `json:"upstream_service_time"`
}

// millisJSON reads a JSON number or string of milliseconds.
func millisJSON(b json.RawMessage) time.Duration {
	return logparse.Millis(bytes.Trim(b, `"`))
}

// ParseJSON parses one JSON access log line.
func ParseJSON(line []byte, e *logparse.Entry) error {
	*e = logparse.Entry{Kind: logparse.Request, TargetTime: -1}
	var j jsonLine
	if err := json.Unmarshal(line, &j); err != nil {
		return fmt.Errorf("envoy json: %w", err)
	}
	if j.StartTime != "" {
		t, err := time.Parse(time.RFC3339Nano, j.StartTime)
		if err != nil {
			return fmt.Errorf("envoy json: start_time %q: %w", j.StartTime, err)
		}
		e.Time = t
	}
	e.Method, e.URL, e.Client, e.Group = j.Method, j.Path, j.Client, logparse.Dash([]byte(j.UpstreamCluster))
	e.Target = hostOf(j.UpstreamHost)
	e.Status = logparse.Status(bytes.Trim(j.ResponseCode, `"`))
	if j.ServiceTime != nil {
		e.TargetTime = millisJSON(j.ServiceTime)
	}
	Attribute(j.ResponseFlags, j.Details, logparse.Dash([]byte(j.TransportFailure)), e)
	return nil
}
