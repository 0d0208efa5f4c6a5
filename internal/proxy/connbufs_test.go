package proxy

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"testing"
)

// TestIdleTargetConnectionsHoldNoBuffers: once its response is read, a
// pooled target connection has given its read and write buffers back
// (connbufs.go), on both I/O layers, and the next request borrows them
// again on the same connection.
func TestIdleTargetConnectionsHoldNoBuffers(t *testing.T) {
	for _, loops := range []int{0, -1} {
		t.Run(fmt.Sprint("loops=", loops), func(t *testing.T) {
			tg := newRawTarget(t, false)
			s, addr := startServerOpts(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, tg.ln.Addr()), Options{Logger: slog.New(slog.DiscardHandler), EventLoops: loops})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for i := range 3 {
				if st, body := rawGet(t, c, br); st != 200 || body != "ok\n" {
					t.Fatalf("GET %d: %d %q", i, st, body)
				}
			}
			if n := tg.accepted.Load(); n != 1 {
				t.Errorf("%d target connections for 3 sequential requests, want 1 reused", n)
			}
			tr := s.Group("app").Transport
			idle := 0
			tr.pools.Range(func(_, v any) bool {
				p := v.(*pool)
				p.mu.Lock()
				defer p.mu.Unlock()
				for _, lane := range p.lanes {
					for _, bc := range lane {
						idle++
						if bc.br != nil || bc.bw != nil {
							t.Errorf("an idle target connection holds buffers: reader %v, writer %v", bc.br != nil, bc.bw != nil)
						}
					}
				}
				return true
			})
			if idle != 1 {
				t.Errorf("%d idle target connections, want 1", idle)
			}
		})
	}
}
