//go:build linux

package evloop

import "go.uber.org/goleak"

// goleakOptions ignores the goroutines of gnet's process-wide worker pool
// (ants), which outlive any one engine by design, and the HTTP client's
// idle connection readers the tests already closed.
func goleakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	}
}
