package analyze

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

func causeCounts(r *Report) map[string]int64 {
	m := map[string]int64{}
	for _, c := range r.Causes {
		m[c.ID] = c.Count
	}
	return m
}

// TestNginxAccessAndErrorJoined: given the nginx parser's testdata access
// and error logs together, the access log's 502 and 504 take the causes
// of the error log's lines for the same upstream, request and time, and
// each failure counts once: the causes are the error log's alone, plus
// the access log's 499, which nginx writes no error line for. Also with
// the logs in a zone other than UTC (the error log has no zone).
func TestNginxAccessAndErrorJoined(t *testing.T) {
	access, err := os.ReadFile("../logparse/nginx/testdata/access.log")
	if err != nil {
		t.Fatal(err)
	}
	errlog, err := os.ReadFile("../logparse/nginx/testdata/error.log")
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, files map[string]string) *Report {
		t.Helper()
		dir := t.TempDir()
		var paths []string
		for name, content := range files {
			write(t, filepath.Join(dir, name), content, false)
			paths = append(paths, filepath.Join(dir, name))
		}
		r, err := Run(context.Background(), paths, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	alone := causeCounts(run(t, map[string]string{"access.log": string(access)}))
	if alone[failure.CauseLBError] != 1 {
		t.Fatalf("access log alone: causes %v, want the 502 as %s", alone, failure.CauseLBError)
	}
	want := causeCounts(run(t, map[string]string{"error.log": string(errlog)}))
	want[failure.CauseClientClosed]++
	shifted := strings.NewReplacer("[29/Oct/2024:14:51:", "[29/Oct/2024:07:51:", "+0000]", "-0700]")
	for name, files := range map[string]map[string]string{
		"utc":   {"access.log": string(access), "error.log": string(errlog)},
		"-0700": {"access.log": shifted.Replace(string(access)), "error.log": strings.ReplaceAll(string(errlog), "2024/10/29 14:51:", "2024/10/29 07:51:")},
	} {
		r := run(t, files)
		if d := cmp.Diff(want, causeCounts(r)); d != "" {
			t.Errorf("%s: causes (-want +got):\n%s", name, d)
		}
		if r.Requests != 5 || r.LB5xx != 2 {
			t.Errorf("%s: %d requests, %d LB 5xx; want 5 and 2", name, r.Requests, r.LB5xx)
		}
		for _, tr := range r.Targets {
			if tr.Errors[failure.CauseLBError] != 0 {
				t.Errorf("%s: target %s still has %v", name, tr.Target, tr.Errors)
			}
		}
	}
}
