package doctor

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// progressLog records what Run tells a progress display.
type progressLog struct {
	mu     sync.Mutex
	starts map[string]int
	done   map[string]int
}

func (p *progressLog) Start(g string, n int) { p.mu.Lock(); p.starts[g] = n; p.mu.Unlock() }
func (p *progressLog) Done(g, _ string)      { p.mu.Lock(); p.done[g]++; p.mu.Unlock() }

// TestRunEmptyGroupAndRefusingTarget: against a real closed port and a
// group without targets, Run reports both, and tells the progress display
// about every group and target.
func TestRunEmptyGroupAndRefusingTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	cfg, err := config.Load([]byte("listeners: [{name: web, address: \"127.0.0.1:0\", default_target_group: app, rules: [{priority: 1, path: \"/e/*\", target_group: empty}]}]\n" +
		"target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: \"" + closed + "\"}]}, {name: empty}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := &progressLog{starts: map[string]int{}, done: map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, cfg, Options{ProbeTimeout: time.Second, Progress: p})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]Severity{}
	for _, f := range rep.Findings {
		ids[f.TargetGroup+" "+f.ID] = f.Severity
	}
	if ids["app "+failure.CauseTargetNotListening] != SeverityError || ids["empty "+failure.CauseNoRegisteredTargets] != SeverityError {
		t.Errorf("findings %+v", rep.Findings)
	}
	if p.starts["app"] != 1 || p.done["app"] != 1 || p.starts["empty"] != 0 || p.done["empty"] != 0 {
		t.Errorf("progress: starts %v done %v", p.starts, p.done)
	}
	if _, ok := p.starts["empty"]; !ok {
		t.Error("the empty group got no progress line")
	}
}
