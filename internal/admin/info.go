package admin

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
)

// showInfo writes HAProxy's `show info` layout, "Name: value" lines
// (HAProxy management guide, section 9.3 "show info"), with the fields
// Fulcrum knows: Name, Version, Pid, Nbthread (GOMAXPROCS), Uptime and
// Uptime_sec (when Started is set), CurrConns (requests in flight to
// targets), CumReq (attempts answered or failed) and Run_queue (requests
// waiting in target group queues), and Fulcrum's own Admin_address (the
// admin API's bound address, for admin.address with port 0).
func (s *Server) showInfo(out *bytes.Buffer) {
	now := s.now()
	fmt.Fprintf(out, "Name: Fulcrum\n")
	if s.Version != "" {
		fmt.Fprintf(out, "Version: %s\n", s.Version)
	}
	fmt.Fprintf(out, "Pid: %d\nProcess_num: 1\nNbthread: %d\n", os.Getpid(), runtime.GOMAXPROCS(0))
	if !s.Started.IsZero() {
		up := now.Sub(s.Started)
		sec := int64(up.Seconds())
		fmt.Fprintf(out, "Uptime: %dd %dh%02dm%02ds\nUptime_sec: %d\n", sec/86400, sec%86400/3600, sec%3600/60, sec%60, sec)
	}
	var cur, cum int64
	for _, g := range s.Groups() {
		for _, t := range g.Targets() {
			cur += t.InFlight()
			snap := t.Stats.Snapshot(now)
			cum += snap.TotalResponses + snap.ConnErrors + snap.RespErrors
		}
	}
	var queued int64
	for _, q := range s.queues() {
		queued += q.Cur
	}
	fmt.Fprintf(out, "CurrConns: %d\nCumReq: %d\nRun_queue: %d\n", cur, cum, queued)
	if s.ln != nil {
		// Fulcrum's own field: the admin API's bound address, so that
		// `fulcrum status -c` finds it when admin.address has port 0.
		fmt.Fprintf(out, "Admin_address: %s\n", s.ln.Addr())
	}
}
