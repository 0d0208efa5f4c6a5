package admin

import "net/http"

// fleet answers GET /api/v1/fleet with the fleet view (cluster.Fleet):
// this instance, whether it reaches etcd, the instances with a live
// report and every target as each instance sees it, with verdicts; 404
// without a cluster section.
func (s *Server) fleet(w http.ResponseWriter, r *http.Request) {
	if s.Fleet == nil {
		writeError(w, http.StatusNotFound, "no fleet", "this instance has no cluster section: it stands alone")
		return
	}
	f := s.Fleet()
	if f == nil {
		writeError(w, http.StatusNotFound, "no fleet", "this instance has no cluster section: it stands alone")
		return
	}
	writeJSON(w, http.StatusOK, f)
}
