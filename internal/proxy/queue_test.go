package proxy

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// TestQueueHighWaterMark: qmax is the most requests that waited at once,
// and stays after they leave.
func TestQueueHighWaterMark(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue()
		q.size.Store(5)
		q.timeout.Store(int64(time.Second))
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				q.wait(context.Background(), func() *target.Target { return nil })
			})
		}
		synctest.Wait()
		if got := q.waiting.Load(); got != 3 {
			t.Fatalf("waiting %d, want 3", got)
		}
		wg.Wait() // the queue timeout passes
		if q.waiting.Load() != 0 || q.most.Load() != 3 {
			t.Errorf("after the timeout: waiting %d, most %d, want 0 and 3", q.waiting.Load(), q.most.Load())
		}
	})
}
