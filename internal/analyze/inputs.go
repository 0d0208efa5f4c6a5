package analyze

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
)

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// expand turns PATH arguments into files: "-" is standard input, a
// directory is walked recursively (an S3 AWSLogs/… tree synced locally),
// a pattern with * ? or [ is a glob, anything else a file.
func expand(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		switch {
		case p == "-":
			out = append(out, p)
		case strings.ContainsAny(p, "*?["):
			m, err := filepath.Glob(p)
			if err != nil {
				return nil, fmt.Errorf("glob %q: %w", p, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("glob %q matches no file", p)
			}
			out = append(out, m...)
		default:
			st, err := os.Stat(p)
			if err != nil {
				return nil, err
			}
			if !st.IsDir() {
				out = append(out, p)
				continue
			}
			var found []string
			err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.Type().IsRegular() {
					found = append(found, path)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			sort.Strings(found)
			out = append(out, found...)
		}
	}
	return out, nil
}

// statSize returns a file's size.
func statSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// open returns a reader of the file's lines, gunzipping when the content
// starts with the gzip magic (whatever the name). Raw bytes read are added
// to done, for progress.
func open(path string, stdin io.Reader, done *atomic.Int64) (io.Reader, io.Closer, error) {
	var r io.Reader
	var c io.Closer = nopCloser{}
	if path == "-" {
		if stdin == nil {
			return nil, nil, fmt.Errorf("-: no standard input")
		}
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		r, c = f, f
	}
	br := bufio.NewReaderSize(countingReader{r: r, n: done}, 256<<10)
	magic, _ := br.Peek(2)
	if bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br) // multistream by default, as S3 objects may be
		if err != nil {
			c.Close()
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return zr, c, nil
	}
	return br, c, nil
}
