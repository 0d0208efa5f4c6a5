package accesslog

import (
	"strings"
	"testing"
)

// TestActionFields: a redirect fills actions_executed and redirect_url as
// ALB does, and a rule's own answer is never a failed request.
func TestActionFields(t *testing.T) {
	r := &Record{Type: "http", ELBStatus: 301, RulePriority: 20, Action: "redirect", RedirectURL: "https://example.com/new/x", TraceID: "id1"}
	line := string(AppendALB(nil, r))
	if !strings.Contains(line, ` 20 - "redirect" "https://example.com/new/x" "-"`) {
		t.Errorf("ALB line lacks matched_rule_priority, actions_executed and redirect_url: %s", line)
	}
	js := string(AppendJSON(nil, r))
	if !strings.Contains(js, `"actions_executed":"redirect","redirect_url":"https://example.com/new/x"`) {
		t.Errorf("JSON line: %s", js)
	}
	fixed := &Record{ELBStatus: 503, Action: "fixed-response", TraceID: "id2"}
	if Failed(fixed) {
		t.Error("a fixed_response 503 counts as a failed request")
	}
	if !Failed(&Record{ELBStatus: 503, Forwarded: true}) {
		t.Error("a forwarded 503 does not count as failed")
	}
	fwd := string(AppendALB(nil, &Record{Forwarded: true, RulePriority: 0}))
	if !strings.Contains(fwd, ` "forward" "-" "-"`) {
		t.Errorf("forward line: %s", fwd)
	}
}
