package analyze

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/envelope"
)

// followPoll is how often Follow looks for new lines and rotated files.
const followPoll = 200 * time.Millisecond

// Follow reads the files named by paths from their start and then keeps
// reading what is appended, like `tail -F`: a file that does not exist
// yet is waited for, a file replaced by another (rotation: a new inode
// at the path) is read to its end and the new one from its start, and a
// truncated file is read again from its start. Every `every` (and once
// more when ctx ends) it calls emit with the report of everything read
// so far. A partial last line waits for its newline. It returns nil when
// ctx ends, or emit's error. Globs are expanded once, at the start, and
// must match; directories and standard input are refused, and a gzip
// file is reported in its input's Error.
func Follow(ctx context.Context, paths []string, o Options, every time.Duration, emit func(*Report) error) error {
	var files []string
	for _, p := range paths {
		if p == "-" {
			return fmt.Errorf("--follow: standard input cannot be followed")
		}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return fmt.Errorf("--follow: %s is a directory; name its files", p)
		}
		m, err := expand([]string{p})
		switch {
		case err == nil:
			files = append(files, m...)
		case strings.ContainsAny(p, "*?["):
			return fmt.Errorf("--follow: %w", err)
		default:
			files = append(files, p) // not there yet: wait for it
		}
	}
	if o.Format == "" {
		o.Format = "auto"
	}
	fs, err := formats(o)
	if err != nil {
		return err
	}
	if _, ok := group(o.Format, fs); !ok {
		return fmt.Errorf("--format %q: unknown", o.Format)
	}
	fl := make([]*follower, len(files))
	for i, f := range files {
		fl[i] = &follower{in: Input{Path: f, UnparsedExamples: []string{}, Formats: map[string]int64{}}, a: newAgg(), d: newDetector(o, fs)}
		defer fl[i].close()
	}
	report := func() *Report {
		total := newAgg()
		inputs := make([]Input, len(fl))
		for i, f := range fl {
			total.merge(f.a)
			inputs[i] = f.in.snapshot()
		}
		total.joinNginx()
		return buildReport(inputs, total)
	}
	poll := time.NewTicker(followPoll)
	defer poll.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		for _, f := range fl {
			f.poll(o)
		}
		select {
		case <-ctx.Done():
			for _, f := range fl {
				f.poll(o)
			}
			return emit(report())
		case <-tick.C:
			if err := emit(report()); err != nil {
				return err
			}
		case <-poll.C:
		}
	}
}

// follower is one followed file.
type follower struct {
	in      Input
	a       *agg
	d       *detector
	f       *os.File
	st      os.FileInfo
	br      *bufio.Reader
	offset  int64
	pending []byte
	lbuf    [8]envelope.Unwrapped
	e       logparse.Entry
}

func (f *follower) close() {
	if f.f != nil {
		f.f.Close()
	}
}

// snapshot copies the input for a report.
func (in Input) snapshot() Input {
	c := in
	c.UnparsedExamples = append([]string{}, in.UnparsedExamples...)
	c.Formats = copyCounts(in.Formats)
	if in.Envelopes != nil {
		c.Envelopes = copyCounts(in.Envelopes)
	}
	c.finish()
	return c
}

func copyCounts(m map[string]int64) map[string]int64 {
	c := make(map[string]int64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// poll reads what was appended, then checks for rotation and truncation.
func (f *follower) poll(o Options) {
	if f.f == nil && !f.open() {
		return
	}
	f.read(o)
	st, err := os.Stat(f.in.Path)
	switch {
	case err != nil:
		// Moved away and not yet replaced: keep the open file.
	case !os.SameFile(st, f.st):
		f.read(o)
		f.flush(o)
		f.close()
		f.f = nil
		if f.open() {
			f.read(o)
		}
	case st.Size() < f.offset:
		f.pending = f.pending[:0]
		if _, err := f.f.Seek(0, io.SeekStart); err == nil {
			f.br.Reset(f.f)
			f.offset = 0
			f.read(o)
		}
	}
}

func (f *follower) open() bool {
	file, err := os.Open(f.in.Path)
	if err != nil {
		return false
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return false
	}
	var magic [2]byte
	if n, _ := file.ReadAt(magic[:], 0); n == 2 && magic == [2]byte{0x1f, 0x8b} {
		// A rotated, compressed file is done growing: nothing to follow.
		file.Close()
		f.in.Error = "gzip: a compressed file cannot be followed"
		return false
	}
	f.f, f.st, f.offset, f.in.Error = file, st, 0, ""
	if f.br == nil {
		f.br = bufio.NewReaderSize(file, 256<<10)
	} else {
		f.br.Reset(file)
	}
	return true
}

// read consumes the complete lines available.
func (f *follower) read(o Options) {
	for {
		chunk, err := f.br.ReadSlice('\n')
		f.offset += int64(len(chunk))
		if len(f.pending) < maxLine {
			f.pending = append(f.pending, chunk[:min(len(chunk), maxLine-len(f.pending))]...)
		}
		switch {
		case err == nil:
			f.line(o)
		case errors.Is(err, bufio.ErrBufferFull):
		default:
			if !errors.Is(err, io.EOF) {
				f.in.Error = err.Error()
			}
			return
		}
	}
}

// flush counts a last line without a newline (a rotated file's end).
func (f *follower) flush(o Options) {
	if len(bytes.TrimSpace(f.pending)) > 0 {
		f.line(o)
	}
	f.pending = f.pending[:0]
}

func (f *follower) line(o Options) {
	f.in.Lines++
	f.in.line(f.d, f.pending, f.lbuf[:0], &f.e, f.a, o)
	f.pending = f.pending[:0]
}
