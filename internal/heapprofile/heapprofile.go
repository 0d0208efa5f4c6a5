// Package heapprofile keeps the Go runtime's heap-profile sampling off
// while the linked packages initialise, and gives it back to the program
// that serves profiles.
//
// The runtime samples one allocation in every 512 KiB by default
// (runtime.MemProfileRate) and records each sample's stack, unwinding it
// through the binary's function tables. During package initialisation
// (protobuf descriptors, Kubernetes schemes, gRPC registries) those
// unwinds fault in up to about a megabyte of the executable's read-only
// pages and profile buckets (0.4-0.8 MB measured at 200 connections)
// that stay resident for the life of the process, though
// nothing reads them unless someone asks for a heap profile
// (docs/performance.md, "Where the idle megabytes come from").
//
// Importing the package turns the sampling off in its init function.
// It imports nothing but runtime, so by the Go specification's order of
// package initialisation (packages sorted by import path, each started
// once all of its imports are done; "Package initialization") it runs
// before any package that allocates much. internal/cli imports it; `fulcrum
// serve` calls Restore when admin.pprof serves /debug/pprof/.
package heapprofile

import "runtime"

// defaultRate is runtime.MemProfileRate's documented initial value, in
// bytes allocated between samples (runtime package, MemProfileRate).
const defaultRate = 512 * 1024

func init() {
	// Any other value is the operator's GODEBUG=memprofilerate=N, which
	// the runtime applied before this; leave it.
	if runtime.MemProfileRate == defaultRate {
		runtime.MemProfileRate = 0
	}
}

// Restore turns sampling back on at the runtime's default rate, unless
// godebug (the GODEBUG environment variable, comma-separated key=value
// settings) sets memprofilerate: then the operator's rate is the one in
// effect and stays. Heap profiles taken after Restore hold the
// allocations made after it, not those of package initialisation.
func Restore(godebug string) {
	const key = "memprofilerate="
	for godebug != "" {
		field := godebug
		godebug = ""
		for i := range len(field) {
			if field[i] == ',' {
				field, godebug = field[:i], field[i+1:]
				break
			}
		}
		if len(field) > len(key) && field[:len(key)] == key {
			return
		}
	}
	runtime.MemProfileRate = defaultRate
}
