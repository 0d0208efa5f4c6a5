package analyze

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// TestFollow: a followed file's appended lines (a partial one waiting
// for its newline), its rotation and a truncation all reach the report,
// which is emitted periodically and once more at the end.
func TestFollow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	ok := func(i int) string {
		return albLine(t0.Add(time.Duration(i)*time.Second), "10.0.0.1:80", "0.000 0.002 0.000", "200", "200", "web") + "\n"
	}
	refused := albLine(t0, "10.0.0.2:80", "-1 -1 -1", "502", "-", "web") + "\n"
	appendTo := func(p, s string) {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	appendTo(path, ok(0)+ok(1))

	ctx, cancel := context.WithCancel(context.Background())
	reports := make(chan *Report, 1024)
	done := make(chan error, 1)
	go func() {
		done <- Follow(ctx, []string{path}, Options{}, 20*time.Millisecond, func(r *Report) error {
			reports <- r
			return nil
		})
	}()
	// wait returns the first report that satisfies cond, within 10 s.
	wait := func(what string, cond func(*Report) bool) *Report {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case r := <-reports:
				if cond(r) {
					return r
				}
			case <-deadline:
				t.Fatalf("no report with %s", what)
			}
		}
	}
	wait("2 requests", func(r *Report) bool { return r.Requests == 2 })
	// Half a line, then the rest: counted once, when whole.
	appendTo(path, refused[:40])
	wait("still 2 requests after a partial line", func(r *Report) bool { return r.Requests == 2 && r.Inputs[0].Unparsed == 0 })
	appendTo(path, refused[40:])
	r := wait("the refused request", func(r *Report) bool { return r.Requests == 3 })
	if len(r.Causes) != 1 || r.Causes[0].ID != failure.CauseTargetNotListening || r.Inputs[0].Unparsed != 0 {
		t.Errorf("after the append: %+v %+v", r.Causes, r.Inputs)
	}
	// Rotation: the old file moves away, a new one takes its path.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(path+".1", ok(2)) // written by the old writer before it reopened
	appendTo(path, ok(3)+refused)
	wait("the rotated file's lines", func(r *Report) bool { return r.Requests == 6 })
	// Truncation: read again from the start.
	if err := os.WriteFile(path, []byte(ok(4)), 0o644); err != nil {
		t.Fatal(err)
	}
	wait("the truncated file's line", func(r *Report) bool { return r.Requests == 7 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var last *Report
	for len(reports) > 0 {
		last = <-reports
	}
	if last == nil || last.Requests != 7 || last.Causes[0].Count != 2 {
		t.Errorf("final report %+v", last)
	}
}

// TestFollowRefuses: standard input, directories and globs that match
// nothing are refused; a gzip file is an input error, not garbage lines.
func TestFollowRefuses(t *testing.T) {
	dir := t.TempDir()
	emit := func(*Report) error { return nil }
	for _, p := range []string{"-", dir, filepath.Join(dir, "*.log")} {
		if err := Follow(context.Background(), []string{p}, Options{}, time.Second, emit); err == nil {
			t.Errorf("%s: followed", p)
		}
	}
	gz := filepath.Join(dir, "old.log.gz")
	write(t, gz, albLine(t0, "10.0.0.1:80", "0.000 0.002 0.000", "200", "200", "web")+"\n", true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var last *Report
	if err := Follow(ctx, []string{gz}, Options{}, time.Second, func(r *Report) error { last = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if last == nil || last.Inputs[0].Error == "" || last.Inputs[0].Lines != 0 {
		t.Errorf("gzip input %+v", last)
	}
}
