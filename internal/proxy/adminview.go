package proxy

// QueueLengths returns how many requests wait in each target group's
// queue now, by group name.
func (s *Server) QueueLengths() map[string]int64 { return s.queueLengths() }

// QueueMaxima returns, by group name, the most requests that waited at
// once in each target group's queue since it was made.
func (s *Server) QueueMaxima() map[string]int64 {
	m := map[string]int64{}
	for _, g := range s.snap.Load().order {
		m[g.Name] = g.QueueMax()
	}
	return m
}

// ListenerLoad is one listener's client connections: open now, and its
// max_connections (0 is unlimited); and the bytes of every request it
// served since it was bound, received from clients (BytesIn) and sent to
// them (BytesOut), as ALB's received_bytes and sent_bytes count them.
type ListenerLoad struct {
	Name              string
	Open, Max         int64
	BytesIn, BytesOut int64
}

// ListenerLoads returns every bound listener's load, in configuration
// order, for HAProxy's FRONTEND rows.
func (s *Server) ListenerLoads() []ListenerLoad {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ListenerLoad, 0, len(s.cfg.Listeners))
	for _, lc := range s.cfg.Listeners {
		l := s.listeners[lc.Name]
		if l == nil || l.tl == nil {
			continue
		}
		out = append(out, ListenerLoad{Name: lc.Name, Open: l.tl.active.Load(), Max: l.tl.max.Load(),
			BytesIn: l.handler.bytesIn.Load(), BytesOut: l.handler.bytesOut.Load()})
	}
	return out
}
