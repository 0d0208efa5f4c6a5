package cli

import (
	"context"
	"io"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// doctorBars shows one mpb bar per target group while doctor probes its
// targets. It is used only when stderr is a terminal, so piped output
// gets nothing extra.
type doctorBars struct {
	mu   sync.Mutex
	p    *mpb.Progress
	bars map[string]*mpb.Bar
}

func newDoctorBars(ctx context.Context, w io.Writer) *doctorBars {
	return &doctorBars{p: mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(30)), bars: map[string]*mpb.Bar{}}
}

// Start adds the group's bar, with one step per target.
func (d *doctorBars) Start(group string, targets int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.p.New(int64(max(targets, 1)), mpb.BarStyle(),
		mpb.PrependDecorators(decor.Name(group, decor.WCSyncSpaceR), decor.CountersNoUnit(" %d/%d targets")),
		mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO)))
	if targets == 0 {
		b.SetCurrent(1)
	}
	d.bars[group] = b
}

// Done moves the group's bar one target on.
func (d *doctorBars) Done(group, _ string) {
	d.mu.Lock()
	b := d.bars[group]
	d.mu.Unlock()
	if b != nil {
		b.Increment()
	}
}

// Wait ends every bar and waits for the last render.
func (d *doctorBars) Wait() {
	d.mu.Lock()
	for _, b := range d.bars {
		if !b.Completed() {
			b.Abort(false)
		}
	}
	d.mu.Unlock()
	d.p.Wait()
}
