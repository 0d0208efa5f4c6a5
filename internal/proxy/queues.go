package proxy

// QueueLengths returns how many requests wait in each target group's
// queue now, by group name.
func (s *Server) QueueLengths() map[string]int64 { return s.queueLengths() }
