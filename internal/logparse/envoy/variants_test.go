package envoy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

// TestIstioVariants: Istio's format with every class of response flag
// (testdata/SOURCES.md), cluster and upstream service time included.
func TestIstioVariants(t *testing.T) {
	want := []row{
		{418, "10.44.1.27:80", "", false},
		{0, "10.0.0.12:3306", failure.CauseTargetPortFiltered, false},
		{503, "10.0.0.5:8080", failure.CauseTargetNotListening, true},
		{503, "", failure.CauseConnectionLimit, true},
		{0, "10.0.0.5:8080", failure.CauseClientClosed, false},
		{404, "", "", false},
		{504, "10.0.0.5:8080", failure.CauseTargetResponseTimeout, true},
		{503, "10.0.0.6:8080", failure.CauseTargetClosed, true},
		{429, "", failure.CauseRequestDenied, false},
	}
	var got []row
	ls := lines(t, "variants.log")
	for i, l := range ls {
		if !SniffText(l) {
			t.Errorf("line %d not sniffed", i+1)
		}
		var e logparse.Entry
		if err := ParseText(l, &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		got = append(got, row{e.Status, e.Target, e.Cause, e.LBError})
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	var e logparse.Entry
	if err := ParseText(ls[0], &e); err != nil || e.Group != "outbound|8000||httpbin.foo.svc.cluster.local" || e.TargetTime != 4*time.Millisecond {
		t.Errorf("istio example: %v group %q target time %v", err, e.Group, e.TargetTime)
	}
	if err := ParseText(ls[5], &e); err != nil || !e.Excluded {
		t.Errorf("NR: %v %+v", err, e)
	}
}

// TestCustomFormat: a format string reordering the operators, with
// arguments and a length limit, parses through Compile.
func TestCustomFormat(t *testing.T) {
	p, err := Compile(`%START_TIME% %DOWNSTREAM_REMOTE_ADDRESS% %REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% code=%RESPONSE_CODE% flags=%RESPONSE_FLAGS_LONG% up=%UPSTREAM_HOST% ua="%REQ(USER-AGENT):40%" svc=%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%\n`)
	if err != nil {
		t.Fatal(err)
	}
	var e logparse.Entry
	line := `2026-11-22T10:00:00.123Z 10.244.0.7:51000 GET /v1 code=503 flags=UpstreamConnectionFailure up=10.0.0.5:8080 ua="curl/8.5.0" svc=-`
	if err := p([]byte(line), &e); err != nil || e.Cause != failure.CauseTargetPortFiltered || e.Target != "10.0.0.5:8080" || e.URL != "/v1" || e.Client != "10.244.0.7:51000" || e.Time.IsZero() {
		t.Errorf("custom format: %v %+v", err, e)
	}
	if err := p([]byte(`[2026-11-22T10:00:00.123Z] "GET / HTTP/1.1" 200 - 0 0 1 1`), &e); err == nil {
		t.Error("a default-format line parsed as the custom format")
	}
	if _, err := Compile(`%START_TIME`); err == nil {
		t.Error("an unclosed operator compiled")
	}
}

func FuzzCompiled(f *testing.F) {
	for _, l := range lines(f, "variants.log") {
		f.Add(l)
	}
	p, err := Compile(`[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n`)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e logparse.Entry
		if p(b, &e) == nil && (e.Status < 0 || e.Status > 999) {
			t.Errorf("status %d", e.Status)
		}
	})
}

// TestIstioFormatCompiled: Istio's format string, compiled, reads the
// Istio lines to the same status, target and cause as ParseText.
func TestIstioFormatCompiled(t *testing.T) {
	p, err := Compile(`[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n`)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range lines(t, "variants.log") {
		var want, got logparse.Entry
		if err := ParseText(l, &want); err != nil {
			t.Fatal(err)
		}
		if err := p(l, &got); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if got.Status != want.Status || got.Target != want.Target || got.Cause != want.Cause || got.Group != want.Group || got.TargetTime != want.TargetTime {
			t.Errorf("line %d: compiled %+v\nParseText %+v", i+1, got, want)
		}
	}
}
