package accesslog

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends r as one JSON object and a newline. It carries the ALB
// fields under their ALB names plus, for each attempt, the phase, whether
// the connection was reused, its idle time and the error type. Unlike the
// ALB line, trace_id is Fulcrum's request id (X-Request-Id) and
// amzn_trace_id the X-Amzn-Trace-Id. classification and
// classification_reason are the request's HTTP desync verdict (ALB's
// fields 28 and 29), "" for a Compliant request.
func AppendJSON(b []byte, r *Record) []byte {
	b = append(b, `{"type":`...)
	b = appendJSONString(b, r.Type)
	b = append(b, `,"time":"`...)
	b = appendTime(b, r.Time)
	b = append(b, `","elb":`...)
	b = appendJSONString(b, r.Listener)
	b = append(b, `,"client":`...)
	b = appendJSONString(b, r.Client)
	b = append(b, `,"target":`...)
	b = appendJSONString(b, r.Target)
	b = append(b, `,"request_processing_time":`...)
	b = appendSeconds(b, r.RequestProcessing)
	b = append(b, `,"target_processing_time":`...)
	b = appendSeconds(b, r.TargetProcessing)
	b = append(b, `,"response_processing_time":`...)
	b = appendSeconds(b, r.ResponseProcessing)
	b = append(b, `,"elb_status_code":`...)
	b = strconv.AppendInt(b, int64(r.ELBStatus), 10)
	b = append(b, `,"target_status_code":`...)
	b = appendJSONStatus(b, r.TargetStatus)
	b = append(b, `,"received_bytes":`...)
	b = strconv.AppendInt(b, r.ReceivedBytes, 10)
	b = append(b, `,"sent_bytes":`...)
	b = strconv.AppendInt(b, r.SentBytes, 10)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, r.URL)
	b = append(b, `,"protocol":`...)
	b = appendJSONString(b, r.Proto)
	b = append(b, `,"user_agent":`...)
	b = appendJSONString(b, logUserAgent(r.UserAgent))
	b = append(b, `,"ssl_cipher":`...)
	b = appendJSONString(b, r.SSLCipher)
	b = append(b, `,"ssl_protocol":`...)
	b = appendJSONString(b, r.SSLProtocol)
	b = append(b, `,"target_group":`...)
	b = appendJSONString(b, r.TargetGroup)
	b = append(b, `,"trace_id":`...)
	b = appendJSONString(b, r.TraceID)
	b = append(b, `,"domain_name":`...)
	b = appendJSONString(b, r.DomainName)
	b = append(b, `,"matched_rule_priority":`...)
	b = strconv.AppendInt(b, int64(r.RulePriority), 10)
	b = append(b, `,"request_creation_time":"`...)
	b = appendTime(b, r.RequestCreation)
	b = append(b, `","actions_executed":`...)
	switch {
	case r.Action != "":
		b = appendJSONString(b, r.Action)
	case r.Forwarded:
		b = append(b, `"forward"`...)
	default:
		b = append(b, `""`...)
	}
	b = append(b, `,"redirect_url":`...)
	b = appendJSONString(b, r.RedirectURL)
	b = append(b, `,"stickiness":`...)
	b = appendJSONString(b, r.Sticky)
	b = append(b, `,"amzn_trace_id":`...)
	b = appendJSONString(b, r.AmznTraceID)
	b = append(b, `,"error_reason":`...)
	if r.Error == 0 {
		b = append(b, `""`...)
	} else {
		b = appendJSONString(b, r.Error.Reason())
	}
	b = append(b, `,"error_detail":`...)
	b = appendJSONString(b, r.ErrorDetail)
	b = append(b, `,"classification":`...)
	b = appendJSONString(b, r.Classification)
	b = append(b, `,"classification_reason":`...)
	b = appendJSONString(b, r.ClassificationReason)
	b = append(b, `,"conn_trace_id":`...)
	b = appendJSONString(b, r.ConnID)
	if r.GRPCStatus != "" {
		b = append(b, `,"grpc_status":`...)
		b = appendJSONString(b, r.GRPCStatus)
	}
	b = append(b, `,"attempts":[`...)
	for i, a := range r.Attempts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"target":`...)
		b = appendJSONString(b, a.Target)
		b = append(b, `,"status":`...)
		b = appendJSONStatus(b, a.Status)
		b = append(b, `,"error_type":`...)
		if a.Class.Type == 0 {
			b = append(b, `""`...)
		} else {
			b = appendJSONString(b, a.Class.Type.Reason())
		}
		b = append(b, `,"phase":`...)
		if a.Class.Type == 0 {
			b = append(b, `""`...)
		} else {
			b = appendJSONString(b, a.Class.Phase.String())
		}
		b = append(b, `,"reused":`...)
		b = strconv.AppendBool(b, a.Class.Reused)
		b = append(b, `,"idle_seconds":`...)
		b = strconv.AppendFloat(b, a.Class.Idle.Seconds(), 'f', 3, 64)
		b = append(b, `,"duration_seconds":`...)
		b = strconv.AppendFloat(b, a.Duration.Seconds(), 'f', 3, 64)
		b = append(b, `,"detail":`...)
		b = appendJSONString(b, a.Detail)
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

func appendJSONStatus(b []byte, code int) []byte {
	if code == 0 {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(code), 10)
}

// appendJSONString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < ' ' || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
