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
	// Format is "auto" (detect per file) or one of FormatNames.
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
	// Progress, when set, is called with the bytes read so far and the
	// total, about every 100 ms.
	Progress func(done, total int64)
}

// Input is one file's outcome.
type Input struct {
	Path             string   `json:"path"`
	Format           string   `json:"format"`
	Lines            int64    `json:"lines"`
	Parsed           int64    `json:"parsed"`
	Unparsed         int64    `json:"unparsed"`
	UnparsedExamples []string `json:"unparsed_examples"`
	// Envelopes counts the parsed lines found inside each envelope
	// (envelope.Unwrap's names, "kubectl-prefix+docker-timestamps" for
	// nested ones); bare lines are not counted.
	Envelopes map[string]int64 `json:"envelopes,omitempty"`
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
	if o.Format != "auto" {
		if _, ok := lookup(o.Format, nil); !ok {
			return nil, fmt.Errorf("--format %q: want auto or one of %s", o.Format, strings.Join(FormatNames(), ", "))
		}
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
				inputs[i] = analyzeFile(ctx, files[i], o, aggs[i], &done)
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

// analyzeFile streams one file into a.
func analyzeFile(ctx context.Context, path string, o Options, a *agg, done *atomic.Int64) Input {
	in := Input{Path: path, UnparsedExamples: []string{}}
	r, closer, err := open(path, o.Stdin, done)
	if err != nil {
		in.Error = err.Error()
		return in
	}
	defer closer.Close()
	br := bufio.NewReaderSize(r, 256<<10)
	var parse logparse.Parser
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
		line = bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		// Peel envelopes (syslog, journald, docker, kubectl, …) and try
		// the innermost line first: a bare Classic ELB line starts with
		// what looks like a docker timestamp, so an outer layer is tried
		// when the inner one does not parse.
		layers := envelope.Layers(line, lbuf[:0])
		if parse == nil {
			var f format
			ok := false
			for i := len(layers) - 1; i >= 0 && !ok; i-- {
				f, ok = pick(o.Format, layers[i].Line)
			}
			if !ok {
				in.unparsed(path, in.Lines, "format not recognised")
				continue
			}
			in.Format, parse = f.name, f.parse()
		}
		var perr error
		var got envelope.Unwrapped
		for i := len(layers) - 1; i >= 0; i-- {
			err := parse(layers[i].Line, &e)
			if err == nil {
				perr, got = nil, layers[i]
				break
			}
			if i == len(layers)-1 {
				perr = err // the innermost line's error says most
			}
		}
		if perr != nil {
			if !errors.Is(perr, logparse.ErrSkip) {
				in.unparsed(path, in.Lines, perr.Error())
			}
			continue
		}
		if got.Envelope != "" {
			if in.Envelopes == nil {
				in.Envelopes = map[string]int64{}
			}
			in.Envelopes[got.Envelope]++
			// A line without a time of its own takes the envelope's,
			// when that has a year (RFC 3164 stamps do not).
			if e.Time.IsZero() && got.Time.Year() > 0 {
				e.Time = got.Time
			}
		}
		in.Parsed++
		if !keep(&e, o) {
			continue
		}
		a.add(&e, path, in.Lines)
		a.note(in.Format, &e, path, in.Lines)
	}
	if in.Format == "" {
		in.Format = "unknown"
	}
	return in
}

func (in *Input) unparsed(path string, line int64, why string) {
	in.Unparsed++
	if len(in.UnparsedExamples) < maxUnparsedExamples {
		in.UnparsedExamples = append(in.UnparsedExamples, fmt.Sprintf("%s:%d: %s", path, line, why))
	}
}

// pick returns the format for a file from --format or its first line.
func pick(name string, line []byte) (format, bool) {
	if name == "auto" {
		return detect(line)
	}
	return lookup(name, line)
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
