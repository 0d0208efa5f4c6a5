package proxy

import (
	"net/http"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/desync"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// ownAnswer answers and logs a request the connection loop refused before
// routing: malformed (400), refused by desync_mitigation_mode (400), a
// listener limit (408, 413, 414, 431), too many X-Forwarded-For
// addresses (463), an unsupported transfer coding (501) or version (505).
// It goes through the same answer and finish as every other failure, so
// the answer carries Server: fulcrum, Proxy-Status (RFC 9209) and
// X-Request-Id, and the access log record, the request history and the
// metrics get it with its desync classification. r is what could be read
// of the request; line is false when not even its request line was,
// and the log then shows none. size is the bytes the request used.
func (h *Handler) ownAnswer(w http.ResponseWriter, r *httpmsg.Request, ci *connInfo, start time.Time, line bool, ce *failure.ClientError, v desync.Verdict, size int64) {
	rec := h.record()
	q := &request{w: w, r: r, rec: rec, start: start}
	h.fillRecord(q, ci, false)
	defer h.finish(q)
	if !line {
		rec.Method, rec.URL, rec.Proto, rec.UserAgent = "", "", "", ""
	}
	if v.Tier != desync.Compliant {
		rec.Classification, rec.ClassificationReason = v.Tier.String(), v.Reason.String()
	}
	rt := h.routes.Load()
	q.idleTimeout, q.exposeDetails = rt.idleTimeout, rt.exposeDetails
	rec.ReceivedBytes = size
	h.answer(q, failure.Classify(ce), ce.Error())
}
