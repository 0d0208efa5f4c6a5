package target

import "sync/atomic"

// ConnCloses counts the pooled connections to one target that Fulcrum
// closed instead of reusing, by reason. Each is evidence about the target:
// TargetClosed is its keep-alive idle close, Unsolicited is bytes it sent
// that no request asked for (a HEAD, 204 or 304 answered with a body, or a
// body longer than its Content-Length), which nginx logs as "upstream sent
// more data than specified" and Go's http.Transport as "Unsolicited
// response received on idle HTTP channel". Safe for concurrent use.
type ConnCloses struct {
	targetClosed, unsolicited atomic.Int64
}

// The reasons ConnCloses counts, as the reason label of
// fulcrum_target_connections_closed_total.
const (
	CloseTargetClosed = "target_closed"
	CloseUnsolicited  = "unsolicited_data"
)

// ObserveTargetClosed counts an idle connection the target had closed.
func (c *ConnCloses) ObserveTargetClosed() { c.targetClosed.Add(1) }

// ObserveUnsolicited counts a connection closed because the target sent
// bytes beyond the response.
func (c *ConnCloses) ObserveUnsolicited() { c.unsolicited.Add(1) }

// TargetClosed returns how many idle connections were found closed by the
// target and dropped before a request was written to them.
func (c *ConnCloses) TargetClosed() int64 { return c.targetClosed.Load() }

// Unsolicited returns how many connections were closed for unsolicited
// bytes.
func (c *ConnCloses) Unsolicited() int64 { return c.unsolicited.Load() }
