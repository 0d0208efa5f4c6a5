package analyze

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEnvelopes: lines of one format in several envelopes (and none) are
// all parsed, and the input lists the envelopes it saw with counts.
func TestEnvelopes(t *testing.T) {
	dir := t.TempDir()
	// HAProxy configuration manual §8.2.3's httplog example, and a 503
	// with termination state "SC" (§8.5).
	ok := `10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 "GET /index.html HTTP/1.1"`
	sc := `10.0.1.2:33318 [06/Feb/2009:12:14:15.655] http-in static/srv1 10/0/-1/-1/11 503 212 - - SC-- 1/1/1/1/3 0/0 "GET /index.html HTTP/1.1"`
	lines := []string{
		"lb-1  | <134>Oct 11 22:14:15 haproxy[1]: " + ok,
		"lb-1  | <134>Oct 11 22:14:15 haproxy[1]: " + sc,
		"[pod/lb-7d9c4/haproxy] 2024-01-02T03:04:05.1Z " + sc,
		`{"__REALTIME_TIMESTAMP":"1728684855003000","MESSAGE":"` + strings.ReplaceAll(ok, `"`, `\"`) + `"}`,
		ok,
	}
	write(t, filepath.Join(dir, "haproxy.log"), strings.Join(lines, "\n")+"\n", false)
	// A Classic ELB line starts with an RFC 3339 stamp like a docker
	// timestamp; in a compose prefix it must still parse whole.
	elbLine := `2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -`
	write(t, filepath.Join(dir, "elb.log"), "web-1 | "+elbLine+"\n"+elbLine+"\n", false)

	r, err := Run(context.Background(), []string{filepath.Join(dir, "elb.log"), filepath.Join(dir, "haproxy.log")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Inputs) != 2 {
		t.Fatalf("inputs %+v", r.Inputs)
	}
	elb, hap := r.Inputs[0], r.Inputs[1]
	if elb.Format != "elb" || elb.Parsed != 2 || elb.Unparsed != 0 {
		t.Errorf("elb input %+v", elb)
	}
	if d := cmp.Diff(map[string]int64{"docker-compose": 1}, elb.Envelopes); d != "" {
		t.Errorf("elb envelopes (-want +got):\n%s", d)
	}
	if hap.Format != "haproxy" || hap.Parsed != 5 || hap.Unparsed != 0 {
		t.Errorf("haproxy input %+v", hap)
	}
	want := map[string]int64{"docker-compose+syslog-rfc3164": 2, "kubectl-prefix+docker-timestamps": 1, "journald-json": 1}
	if d := cmp.Diff(want, hap.Envelopes); d != "" {
		t.Errorf("haproxy envelopes (-want +got):\n%s", d)
	}
	if r.Requests != 7 || r.Status.C5xx != 2 {
		t.Errorf("requests %d, 5xx %d; want 7 and 2", r.Requests, r.Status.C5xx)
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "  envelopes: docker-compose+syslog-rfc3164 2, journald-json 1, kubectl-prefix+docker-timestamps 1\n") {
		t.Errorf("text report does not list the envelopes:\n%s", b.String())
	}
}
