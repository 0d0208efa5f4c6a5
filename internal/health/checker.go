package health

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Checker runs the health checks of one target group: one loop per target,
// each check on a new connection, every Interval. It refreshes the group's
// route set and logs every state change with its reason.
type Checker struct {
	// Group is the target group checked.
	Group *target.Group
	// Prober runs one check.
	Prober Prober
	// Interval is the time between checks of one target.
	Interval time.Duration
	// HealthyThreshold and UnhealthyThreshold configure the Machine.
	HealthyThreshold, UnhealthyThreshold int
	// Logger receives state changes; nil discards them.
	Logger *slog.Logger
	// OnResult, when set, sees every check result (metrics, check log).
	OnResult func(t *target.Target, r Result)
}

// Run checks every target until ctx is done, then returns ctx's error. The
// first check of each target runs at once, so a fresh start does not wait
// a whole interval. Targets registered later get a loop of their own as
// soon as they are added, and the loop of a removed target stops.
func (c *Checker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	loops := map[*target.Target]context.CancelFunc{}
	defer func() {
		for _, stop := range loops {
			stop()
		}
		wg.Wait()
	}()
	for {
		ts := c.Group.Targets()
		live := make(map[*target.Target]bool, len(ts))
		for i, t := range ts {
			live[t] = true
			if loops[t] != nil {
				continue
			}
			// Spread the first checks over a tenth of the interval so
			// they do not all fire together.
			offset := c.Interval * time.Duration(i) / time.Duration(len(ts)) / 10
			lctx, stop := context.WithCancel(ctx)
			loops[t] = stop
			wg.Go(func() { c.loop(lctx, t, offset) })
		}
		for t, stop := range loops {
			if !live[t] {
				stop()
				delete(loops, t)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.Group.Changed():
		}
	}
}

func (c *Checker) loop(ctx context.Context, t *target.Target, offset time.Duration) {
	m := &Machine{HealthyThreshold: c.HealthyThreshold, UnhealthyThreshold: c.UnhealthyThreshold}
	if offset > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(offset):
		}
	}
	tick := time.NewTicker(c.Interval)
	defer tick.Stop()
	for {
		c.check(ctx, t, m)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (c *Checker) check(ctx context.Context, t *target.Target, m *Machine) {
	r := c.Prober.Probe(ctx, t.Address)
	if ctx.Err() != nil {
		return
	}
	if c.OnResult != nil {
		c.OnResult(t, r)
	}
	cur := t.Health()
	next, changed := m.Observe(cur, r, time.Now())
	if next == cur {
		return
	}
	t.SetHealth(next)
	if !changed {
		return
	}
	c.Group.Refresh()
	if c.Logger != nil {
		c.Logger.LogAttrs(ctx, slog.LevelInfo, "target health changed",
			slog.String("target_group", t.Group), slog.String("target", t.Address),
			slog.String("from", cur.State.String()), slog.String("to", next.State.String()),
			slog.String("reason", next.Reason), slog.String("description", next.Description))
	}
}
