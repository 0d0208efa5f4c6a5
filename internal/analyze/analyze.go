// Package analyze reads load-balancer logs (ALB, Classic ELB, HAProxy,
// nginx, Envoy and Fulcrum's own) and says which side failed and why: it
// parses every line with internal/logparse, attributes each failure to a
// cause of the catalogue shared with `fulcrum doctor`
// (failure.Catalogue), and ranks the causes with their log signature,
// examples and fix (docs/analyze.md).
//
// Files are read in parallel, each in one streaming pass with constant
// memory; an unparseable line is counted and a few are shown, never
// fatal.
package analyze

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/envelope"
)

// maxUnparsedExamples is how many unparseable lines each input shows.
const maxUnparsedExamples = 5

// maxLine is the longest line read whole; longer lines are cut there and
// counted as unparsed if the cut breaks them.
const maxLine = 1 << 20

// Options select and filter what is analyzed.
type Options struct {
	// Format is "auto" (detect per line) or one of FormatNames.
	Format string
	// Since and Until, when not zero, keep entries in [Since, Until).
	Since, Until time.Time
	// TargetGroup, when set, keeps entries whose target group, backend or
	// cluster is this name or an ARN ending in targetgroup/NAME/….
	TargetGroup string
	// Workers bounds parallel files; 0 means GOMAXPROCS.
	Workers int
	// Stdin is read for the path "-".
	Stdin io.Reader
	// HAProxyLogFormat is a custom HAProxy log-format string, as in
	// haproxy.cfg (haproxy.Compile); its lines are tried first.
	HAProxyLogFormat string
	// NginxLogFormat is an nginx log_format directive or its format
	// string (nginx.Compile).
	NginxLogFormat string
	// EnvoyLogFormat is an Envoy access log format string
	// (envoy.Compile).
	EnvoyLogFormat string
	// Progress, when set, is called with the bytes read so far and the
	// total, about every 100 ms.
	Progress func(done, total int64)
}

// Input is one file's outcome.
type Input struct {
	Path string `json:"path"`
	// Format is the format of most parsed lines, "mixed" when no format
	// holds nine in ten, "unknown" when no line parsed.
	Format           string   `json:"format"`
	Lines            int64    `json:"lines"`
	Parsed           int64    `json:"parsed"`
	Unparsed         int64    `json:"unparsed"`
	UnparsedExamples []string `json:"unparsed_examples"`
	// Envelopes counts the parsed lines found inside each envelope
	// (envelope.Unwrap's names, "kubectl-prefix+docker-timestamps" for
	// nested ones); bare lines are not counted.
	Envelopes map[string]int64 `json:"envelopes,omitempty"`
	// Formats counts the parsed lines of each format (format names as
	// Format); a file may mix them, as the format is detected per line.
	Formats map[string]int64 `json:"formats"`
	// Error is set when the file could not be read at all.
	Error string `json:"error,omitempty"`
}

// Run analyzes the files named by paths and returns the report. It fails
// only when no path can be expanded; per-file problems are in the inputs.
func Run(ctx context.Context, paths []string, o Options) (*Report, error) {
	files, err := expand(paths)
	if err != nil {
		return nil, err
	}
	if o.Format == "" {
		o.Format = "auto"
	}
	fs, err := formats(o)
	if err != nil {
		return nil, err
	}
	if _, ok := group(o.Format, fs); !ok {
		return nil, fmt.Errorf("--format %q: want auto or one of %s", o.Format, strings.Join(FormatNames(), ", "))
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var total int64
	for _, f := range files {
		if f != "-" {
			if st, err := statSize(f); err == nil {
				total += st
			}
		}
	}
	var done atomic.Int64
	stopProgress := func() {}
	if o.Progress != nil {
		pctx, cancel := context.WithCancel(ctx)
		var pwg sync.WaitGroup
		pwg.Go(func() {
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-pctx.Done():
					o.Progress(done.Load(), total)
					return
				case <-t.C:
					o.Progress(done.Load(), total)
				}
			}
		})
		stopProgress = func() { cancel(); pwg.Wait() }
	}

	inputs := make([]Input, len(files))
	aggs := make([]*agg, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, max(len(files), 1)) {
		wg.Go(func() {
			for i := range next {
				aggs[i] = newAgg()
				inputs[i] = analyzeFile(ctx, files[i], o, fs, aggs[i], &done)
			}
		})
	}
	for i := range files {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	stopProgress()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	total0 := newAgg()
	for _, a := range aggs {
		if a != nil {
			total0.merge(a)
		}
	}
	total0.joinNginx()
	return buildReport(inputs, total0), nil
}

// countingReader counts bytes for progress.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// analyzeFile streams one file into a. The format is detected per line:
// the format of the last line that parsed is tried first, and a line it
// does not parse is detected afresh, so one file may mix formats (a
// journald export of HAProxy and nginx, an nginx access and error log
// in one stream).
func analyzeFile(ctx context.Context, path string, o Options, fs []format, a *agg, done *atomic.Int64) Input {
	in := Input{Path: path, UnparsedExamples: []string{}, Formats: map[string]int64{}}
	r, closer, err := open(path, o.Stdin, done)
	if err != nil {
		in.Error = err.Error()
		return in
	}
	defer closer.Close()
	br := bufio.NewReaderSize(r, 256<<10)
	d := newDetector(o, fs)
	var e logparse.Entry
	var lbuf [8]envelope.Unwrapped
	for {
		if in.Lines%4096 == 0 && ctx.Err() != nil {
			break
		}
		line, err := readLine(br)
		if len(line) == 0 && err != nil {
			if !errors.Is(err, io.EOF) {
				in.Error = err.Error()
			}
			break
		}
		in.Lines++
		in.line(d, line, lbuf[:0], &e, a, o)
	}
	in.finish()
	return in
}

// line parses and counts one line read from the input.
func (in *Input) line(d *detector, line []byte, lbuf []envelope.Unwrapped, e *logparse.Entry, a *agg, o Options) {
	line = bytes.TrimRight(line, "\r\n")
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	// Peel envelopes (syslog, journald, docker, kubectl, …) and try the
	// innermost line first: a bare Classic ELB line starts with what
	// looks like a docker timestamp, so an outer layer is tried when the
	// inner one does not parse.
	layers := envelope.Layers(line, lbuf)
	name, got, perr := d.parse(layers, e)
	if perr != nil {
		if !errors.Is(perr, logparse.ErrSkip) {
			in.unparsed(in.Path, in.Lines, perr.Error())
		}
		return
	}
	in.Formats[name]++
	if got.Envelope != "" {
		if in.Envelopes == nil {
			in.Envelopes = map[string]int64{}
		}
		in.Envelopes[got.Envelope]++
		// A line without a time of its own takes the envelope's, when
		// that has a year (RFC 3164 stamps do not).
		if e.Time.IsZero() && got.Time.Year() > 0 {
			e.Time = got.Time
		}
	}
	in.Parsed++
	if !keep(e, o) {
		return
	}
	a.add(e, in.Path, in.Lines)
	a.note(name, e, in.Path, in.Lines)
}

// finish names the input's format: the one most of its lines had,
// "mixed" when no format holds nine lines in ten, "unknown" when none
// parsed.
func (in *Input) finish() {
	var top string
	var n, total int64
	for name, c := range in.Formats {
		total += c
		if c > n || c == n && name < top {
			top, n = name, c
		}
	}
	switch {
	case total == 0:
		in.Format = "unknown"
	case len(in.Formats) > 1 && n*10 < total*9:
		in.Format = "mixed"
	default:
		in.Format = top
	}
}

func (in *Input) unparsed(path string, line int64, why string) {
	in.Unparsed++
	if len(in.UnparsedExamples) < maxUnparsedExamples {
		in.UnparsedExamples = append(in.UnparsedExamples, fmt.Sprintf("%s:%d: %s", path, line, why))
	}
}

// readLine returns the next line, up to maxLine bytes; the rest of a
// longer line is skipped.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	buf := append([]byte(nil), line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		line, err = br.ReadSlice('\n')
		if len(buf) < maxLine {
			buf = append(buf, line[:min(len(line), maxLine-len(buf))]...)
		}
	}
	return buf, err
}

// keep applies the time and target group filters.
func keep(e *logparse.Entry, o Options) bool {
	if !e.Time.IsZero() {
		if !o.Since.IsZero() && e.Time.Before(o.Since) {
			return false
		}
		if !o.Until.IsZero() && !e.Time.Before(o.Until) {
			return false
		}
	}
	if o.TargetGroup != "" && e.Group != o.TargetGroup && !strings.Contains(e.Group, "targetgroup/"+o.TargetGroup+"/") {
		return false
	}
	return true
}
