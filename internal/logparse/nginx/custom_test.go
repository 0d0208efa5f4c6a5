package nginx

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/logparsetest"
)

// apm is the log_format directive of NGINX's APM blog post, as it is
// written in nginx.conf.
const apm = `log_format apm '"$time_local" client=$remote_addr '
               'method=$request_method request="$request" '
               'request_length=$request_length '
               'status=$status bytes_sent=$bytes_sent '
               'body_bytes_sent=$body_bytes_sent '
               'referer=$http_referer '
               'user_agent="$http_user_agent" '
               'upstream_addr=$upstream_addr '
               'upstream_status=$upstream_status '
               'request_time=$request_time '
               'upstream_response_time=$upstream_response_time '
               'upstream_connect_time=$upstream_connect_time '
               'upstream_header_time=$upstream_header_time';`

// upstreaminfo is ingress-nginx's default log format, given as the
// format string alone.
const upstreaminfo = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id`

type accessRow struct {
	Status, TargetStatus int
	Target, Cause        string
	LB                   bool
}

func TestLogFormat(t *testing.T) {
	ls := logparsetest.Lines(t, "testdata/log_format.log")
	pa, err := Compile(apm)
	if err != nil {
		t.Fatal(err)
	}
	pu, err := Compile(upstreaminfo)
	if err != nil {
		t.Fatal(err)
	}
	want := []accessRow{
		{200, 200, "10.0.0.6:8080", "", false},
		{504, 0, "10.0.0.7:8080", failure.CauseTargetPortFiltered, true},
		{502, 0, "10.0.0.8:8080", failure.CauseTargetNotListening, true},
		{500, 500, "10.0.0.6:8080", failure.CauseTarget5xx, false},
		{504, 0, "10.0.0.5:8080", failure.CauseTargetResponseTimeout, true},
		{502, 0, "10.244.0.13:8080", failure.CauseLBError, true},
		{200, 200, "10.244.0.12:8080", "", false},
	}
	var got []accessRow
	for i, l := range ls {
		p := pa
		if i >= 5 {
			p = pu
		}
		var e logparse.Entry
		if err := p(l, &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		got = append(got, accessRow{e.Status, e.TargetStatus, e.Target, e.Cause, e.LBError})
		if i == 0 && (e.TargetTime != 10*time.Millisecond || e.Method != "GET" || e.URL != "/api" || !e.Time.Equal(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))) {
			t.Errorf("line 1: %+v", e)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	var e logparse.Entry
	if err := pa(ls[6], &e); err == nil {
		t.Error("an upstreaminfo line parsed as apm")
	}
	if _, err := Compile(`log_format plain 'no variables';`); err == nil {
		t.Error("a format without variables compiled")
	}
}

func FuzzCompiled(f *testing.F) {
	for _, l := range logparsetest.Lines(f, "testdata/log_format.log") {
		f.Add(l)
	}
	pa, err := Compile(apm)
	if err != nil {
		f.Fatal(err)
	}
	pu, err := Compile(upstreaminfo)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e logparse.Entry
		for _, p := range []logparse.Parser{pa, pu} {
			if p(b, &e) == nil && (e.Status < 100 || e.Status > 999) {
				t.Errorf("status %d", e.Status)
			}
		}
	})
}
