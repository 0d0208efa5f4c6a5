package config

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one configuration error: the dotted path of the field, its YAML
// line (0 when unknown) and a message.
type Problem struct {
	Path string
	Line int
	Msg  string
}

// Error formats the problem as "path (line N): message".
func (p Problem) Error() string {
	switch {
	case p.Path == "" && p.Line == 0:
		return p.Msg
	case p.Path == "":
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	case p.Line == 0:
		return p.Path + ": " + p.Msg
	}
	return fmt.Sprintf("%s (line %d): %s", p.Path, p.Line, p.Msg)
}

// Error lists every problem found in a configuration, sorted by line.
type Error struct {
	Problems []Problem
}

// Error joins the problems, one per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// LoadFile reads and loads a configuration file. Errors are *Error, or a
// wrapped os error when the file cannot be read.
func LoadFile(path string) (*Config, error) {
	data, err := ReadLimited(path, MaxConfigFile)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return load(data, filepath.Dir(path))
}

// Load decodes a configuration strictly, applies defaults and validates it.
// Every problem is reported, each with its path and line, as an *Error.
func Load(data []byte) (*Config, error) { return load(data, "") }

// LoadAt is Load for a file's contents: relative paths resolve against
// dir, the file's directory, before validation opens them.
func LoadAt(data []byte, dir string) (*Config, error) { return load(data, dir) }

// load is Load with relative paths resolved against dir, when set, before
// validation opens them.
func load(data []byte, dir string) (*Config, error) {
	data, envProblems := expandEnv(data, lookupEnv)
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		if tabs := tabProblems(data); len(tabs) > 0 {
			return nil, &Error{Problems: tabs}
		}
		return nil, &Error{Problems: []Problem{{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}
	if len(root.Content) == 0 {
		return nil, &Error{Problems: []Problem{{Msg: "the configuration is empty"}}}
	}
	if n := expandedSize(&root, map[*yaml.Node]int{}, maxExpandedNodes); n > maxExpandedNodes {
		return nil, &Error{Problems: []Problem{{Msg: fmt.Sprintf("YAML aliases expand the document to more than %d nodes; refusing an alias fan-out", maxExpandedNodes)}}}
	}
	// The walk is the strict decoder: it reports unknown keys and values of
	// the wrong kind, then removes them from the tree so that decoding and
	// validation can go on and report every other problem too.
	s := &schema{lines: map[string]int{}, bad: map[string]bool{}, problems: envProblems}
	s.walk(root.Content[0], reflect.TypeFor[Config](), "")
	cfg := Default()
	if err := root.Content[0].Decode(&cfg); err != nil {
		return nil, &Error{Problems: append(s.problems, Problem{Msg: err.Error()})}
	}
	if dir != "" {
		cfg.ResolvePaths(dir)
	}
	s.validate(&cfg)
	if len(s.problems) > 0 {
		return nil, s.err()
	}
	return &cfg, nil
}

// schema walks the YAML tree against the Go types, recording the line of
// every path and every structural problem, then validates values.
type schema struct {
	lines    map[string]int
	bad      map[string]bool // paths whose value was rejected by the walk
	problems []Problem
}

func (s *schema) err() *Error {
	slices.SortStableFunc(s.problems, func(a, b Problem) int { return a.Line - b.Line })
	if n := len(s.problems); n > maxProblems {
		s.problems = append(s.problems[:maxProblems:maxProblems], Problem{Msg: fmt.Sprintf("... and %d more problems", n-maxProblems)})
	}
	return &Error{Problems: s.problems}
}

// add records a problem at path, using the line of the nearest recorded
// ancestor when path itself is absent from the file.
func (s *schema) add(path, format string, args ...any) {
	if s.bad[path] {
		return // already reported, and the value was replaced by its default
	}
	s.problems = append(s.problems, Problem{Path: path, Line: s.line(path), Msg: fmt.Sprintf(format, args...)})
}

func (s *schema) line(path string) int {
	for p := path; p != ""; p = parent(p) {
		if l, ok := s.lines[p]; ok {
			return l
		}
	}
	return 0
}

func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// isSection reports whether t is decoded as a mapping of tagged fields
// rather than as a scalar.
func isSection(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	for f := range t.Fields() {
		if f.Tag.Get("yaml") != "" {
			return true
		}
	}
	return false
}

// reject reports a value the walk cannot decode and nulls it in the tree,
// so the field keeps its default and later checks of it stay quiet.
func (s *schema) reject(n *yaml.Node, path, format string, args ...any) {
	s.add(path, format, args...)
	s.bad[path] = true
	*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
}

func (s *schema) walk(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if path != "" {
		s.lines[path] = n.Line
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	switch {
	case isSection(t):
		if n.Kind != yaml.MappingNode {
			s.reject(n, path, "must be a mapping of keys to values")
			return
		}
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fieldByTag(t, k.Value)
			if !ok {
				p := join(path, k.Value)
				s.lines[p] = k.Line
				s.add(p, "unknown key%s", didYouMean(t, k.Value))
				continue
			}
			s.walk(v, f.Type, join(path, k.Value))
			kept = append(kept, k, v)
		}
		n.Content = kept
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			s.reject(n, path, "must be a list")
			return
		}
		for i, c := range n.Content {
			s.walk(c, t.Elem(), path+"["+strconv.Itoa(i)+"]")
		}
	default:
		if n.Kind != yaml.ScalarNode && !reflect.PointerTo(t).Implements(unmarshalerType) {
			s.reject(n, path, "must be a single value, not a list or mapping")
			return
		}
		v := reflect.New(t)
		err := n.Decode(v.Interface())
		if err == nil {
			return
		}
		switch {
		case reflect.PointerTo(t).Implements(unmarshalerType):
			s.reject(n, path, "%s", err.Error())
		case t.Kind() == reflect.Bool:
			s.reject(n, path, "%q is not true or false", n.Value)
		case t.Kind() == reflect.Int:
			s.reject(n, path, "%q is not an integer", n.Value)
		default:
			s.reject(n, path, "%q is not a valid value", n.Value)
		}
	}
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
