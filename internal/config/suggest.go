package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
)

// didYouMean names the key of section type t closest to key, as
// " (did you mean \"x\"?)", or "" when none is close (edit distance of
// at most a third of the key, and at least 2).
func didYouMean(t reflect.Type, key string) string {
	best, bestD := "", max(2, len(key)/3)+1
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		if d := editDistance(strings.ToLower(key), name); d < bestD {
			best, bestD = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// tabProblems finds tabs in the indentation of data, which YAML forbids
// (YAML 1.2 §6.1), with their line numbers; the YAML parser's own error
// for them does not say "tab".
func tabProblems(data []byte) []Problem {
	var out []Problem
	for i, line := range bytes.Split(data, []byte("\n")) {
		indent := line[:len(line)-len(bytes.TrimLeft(line, " \t"))]
		if bytes.IndexByte(indent, '\t') >= 0 {
			out = append(out, Problem{Line: i + 1, Msg: "a tab in the indentation: YAML indents with spaces only"})
		}
	}
	return out
}

// envRef matches ${VAR} and ${VAR:-default}.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandEnv replaces ${VAR} and ${VAR:-default} in data with the
// variable's value from lookup (docker-compose's syntax: the default is
// used when VAR is unset or empty). A ${VAR} without default whose
// variable is unset is a problem naming it and its line. $$ is not
// special; text without ${ is left alone.
func expandEnv(data []byte, lookup func(string) (string, bool)) ([]byte, []Problem) {
	if !bytes.Contains(data, []byte("${")) {
		return data, nil
	}
	var probs []Problem
	lines := bytes.Split(data, []byte("\n"))
	for i, line := range lines {
		if bytes.HasPrefix(bytes.TrimLeft(line, " \t"), []byte("#")) {
			continue
		}
		lines[i] = envRef.ReplaceAllFunc(line, func(m []byte) []byte {
			sub := envRef.FindSubmatch(m)
			name := string(sub[1])
			v, ok := lookup(name)
			if (!ok || v == "") && sub[2] != nil {
				return sub[3]
			}
			if !ok {
				probs = append(probs, Problem{Line: i + 1, Msg: fmt.Sprintf("environment variable %s is not set (use ${%s:-default} for a default)", name, name)})
				return nil
			}
			return []byte(v)
		})
	}
	return bytes.Join(lines, []byte("\n")), probs
}

// ResolvePaths makes the configuration's relative file paths absolute
// against dir, the configuration file's directory, as nginx's -p prefix
// and Caddy do: access_log.path and health_check_log.path (except "-"),
// admin.token_file and admin.socket, listeners[].tls cert_file and
// key_file, and target_groups[].tls.ca_file.
func (c *Config) ResolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && *p != "-" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if c.AccessLog != nil {
		abs(&c.AccessLog.Path)
	}
	if c.HealthCheckLog != nil {
		abs(&c.HealthCheckLog.Path)
	}
	abs(&c.Admin.TokenFile)
	abs(&c.Admin.Socket)
	for i := range c.Listeners {
		if t := c.Listeners[i].TLS; t != nil {
			abs(&t.CertFile)
			abs(&t.KeyFile)
		}
		for j := range c.Listeners[i].Certificates {
			abs(&c.Listeners[i].Certificates[j].CertFile)
			abs(&c.Listeners[i].Certificates[j].KeyFile)
		}
		if m := c.Listeners[i].MutualAuthentication; m != nil {
			abs(&m.CAFile)
		}
	}
	abs(&c.StickinessKeyFile)
	for i := range c.TargetGroups {
		abs(&c.TargetGroups[i].TLS.CAFile)
	}
}

// lookupEnv is the process environment, for Load.
func lookupEnv(name string) (string, bool) { return os.LookupEnv(name) }
