package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Info describes the active configuration of a running server, for
// GET /api/v1/config: where it came from, its text, when it was loaded,
// and the outcome of the last reload.
type Info struct {
	// Path is the configuration file.
	Path string
	// Source is the active file's text.
	Source string
	// LoadedAt is when the active configuration was loaded.
	LoadedAt time.Time
	// Reloads and ReloadFailures count reload attempts by outcome.
	Reloads, ReloadFailures int64
	// LastReload is the outcome of the last reload; nil before the first.
	LastReload *ReloadOutcome
}

// ReloadOutcome is what one reload did.
type ReloadOutcome struct {
	// At is when the reload ran.
	At time.Time
	// OK is true when the new configuration is active.
	OK bool
	// Error is the failure, empty on success.
	Error string
	// Problems are the configuration errors, each with its path and line.
	Problems []Problem
	// Changes says what the reload changed, one line each.
	Changes []string
}

// Problems returns the problems of a configuration error, or nil when err
// is not one.
func Problems(err error) []Problem {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Problems
	}
	return nil
}

// CheckTargetAddress checks a target address registered at runtime with
// the same rule the file's targets[].address follows: host:port with a
// host and a port in 1..65535.
func CheckTargetAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("address %q has no valid port", addr)
	}
	if host == "" {
		return fmt.Errorf("address %q has no host", addr)
	}
	return nil
}
