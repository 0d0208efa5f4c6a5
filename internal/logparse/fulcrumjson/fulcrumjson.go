// Package fulcrumjson parses Fulcrum's own JSON access log
// (internal/accesslog AppendJSON). Its error_reason is the RFC 9209 error
// type Fulcrum classified, and each attempt says whether its connection
// was reused, so the keep-alive race needs no guessing.
package fulcrumjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

// Sniff reports whether line is a Fulcrum JSON access log line.
func Sniff(line []byte) bool {
	return len(line) > 0 && line[0] == '{' && bytes.Contains(line, []byte(`"elb_status_code"`)) && bytes.Contains(line, []byte(`"attempts"`))
}

type attempt struct {
	Target    string `json:"target"`
	Status    int    `json:"status"`
	ErrorType string `json:"error_type"`
	Phase     string `json:"phase"`
	Reused    bool   `json:"reused"`
}

type line struct {
	Time         string    `json:"time"`
	Client       string    `json:"client"`
	Target       string    `json:"target"`
	TargetTime   float64   `json:"target_processing_time"`
	ELBStatus    int       `json:"elb_status_code"`
	TargetStatus *int      `json:"target_status_code"`
	Method       string    `json:"method"`
	URL          string    `json:"url"`
	TargetGroup  string    `json:"target_group"`
	ErrorReason  string    `json:"error_reason"`
	Attempts     []attempt `json:"attempts"`
	// Classification and ClassificationReason use ALB's field names
	// (fields 28-29); absent or "" for a compliant request.
	Classification       string `json:"classification"`
	ClassificationReason string `json:"classification_reason"`
}

// Parse parses one line into e.
func Parse(b []byte, e *logparse.Entry) error {
	*e = logparse.Entry{Kind: logparse.Request}
	var l line
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("fulcrum json: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, l.Time)
	if err != nil {
		return fmt.Errorf("fulcrum json: time %q: %w", l.Time, err)
	}
	e.Time, e.Client, e.Target, e.Group = t, l.Client, l.Target, l.TargetGroup
	e.Method, e.URL, e.Status = l.Method, l.URL, l.ELBStatus
	e.Classification = logparse.Dash([]byte(l.Classification))
	e.ClassificationReason = logparse.Dash([]byte(l.ClassificationReason))
	e.TargetTime = -1
	if l.TargetTime >= 0 {
		e.TargetTime = time.Duration(l.TargetTime * float64(time.Second))
	}
	if l.TargetStatus != nil {
		e.TargetStatus = *l.TargetStatus
	}
	et, ok := failure.ParseErrorType(l.ErrorReason)
	switch {
	case ok:
		reused := false
		if n := len(l.Attempts); n > 0 {
			reused = l.Attempts[n-1].Reused
		}
		e.Cause = failure.CauseOf(et, reused)
		e.Signature = "error_reason " + l.ErrorReason
		if reused {
			e.Signature += " on a reused connection"
		}
		e.LBError = e.Status >= 500
	case e.Status == 460:
		e.Cause, e.Signature = failure.CauseClientClosed, "elb_status_code 460"
	case e.Status >= 500 && e.TargetStatus == e.Status:
		e.Cause, e.Signature = failure.CauseTarget5xx, fmt.Sprintf("elb_status_code %d = target_status_code %d", e.Status, e.TargetStatus)
	}
	return nil
}
