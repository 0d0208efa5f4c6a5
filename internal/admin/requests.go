package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// maxRequestList bounds ?limit= on /api/v1/requests.
const maxRequestList = 1000

// RequestView is one request's whole story: where it came in, how it was
// routed, and every attempt.
type RequestView struct {
	// RequestID is the X-Request-Id the client sent or got back; ID is
	// Fulcrum's own id, the same unless the client chose its own. Both
	// find the request at /api/v1/requests/{id}.
	RequestID string    `json:"request_id"`
	ID        string    `json:"id"`
	Received  time.Time `json:"received"`
	Time      time.Time `json:"time"`
	Listener  string    `json:"listener"`
	Client    string    `json:"client"`
	Method    string    `json:"method"`
	URL       string    `json:"url"`
	// RulePriority is the matched rule's priority, 0 for the default
	// action, -1 when the request was not routed.
	RulePriority int    `json:"rule_priority"`
	TargetGroup  string `json:"target_group"`
	// Status is what the client got; TargetStatus the target's, 0 when
	// Fulcrum answered itself.
	Status       int `json:"status"`
	TargetStatus int `json:"target_status"`
	// ErrorType is the final outcome's RFC 9209 error type, "" on success.
	ErrorType string           `json:"error_type,omitempty"`
	Detail    string           `json:"detail,omitempty"`
	Failed    bool             `json:"failed"`
	Attempts  []AttemptView    `json:"attempts"`
	Timings   RequestTimesView `json:"timings"`
	// Action is "redirect" or "fixed-response" when a rule answered;
	// Stickiness says how stickiness chose the target, or why it left
	// it; AmznTraceID is the X-Amzn-Trace-Id sent on.
	Action      string `json:"action,omitempty"`
	RedirectURL string `json:"redirect_url,omitempty"`
	Stickiness  string `json:"stickiness,omitempty"`
	AmznTraceID string `json:"amzn_trace_id,omitempty"`
	// Classification and ClassificationReason are the request's HTTP
	// desync verdict, as ALB's access log fields of those names: the
	// tier ("Acceptable", "Ambiguous", "Severe") and its reason
	// ("BothTeClPresent", ...); both empty for a Compliant request
	// (docs/desync.md).
	Classification       string `json:"classification,omitempty"`
	ClassificationReason string `json:"classification_reason,omitempty"`
}

// AttemptView is one attempt against a target.
type AttemptView struct {
	Target string `json:"target"`
	// Connection is "fresh" or "reused"; IdleSeconds is how long a reused
	// connection had been idle.
	Connection  string  `json:"connection"`
	IdleSeconds float64 `json:"idle_seconds"`
	Status      int     `json:"status,omitempty"`
	Phase       string  `json:"phase,omitempty"`
	ErrorType   string  `json:"error_type,omitempty"`
	Detail      string  `json:"detail,omitempty"`
	// Evidence is what the attempt showed about the target beyond its
	// status, such as bytes sent after the response ended.
	Evidence string `json:"evidence,omitempty"`
	// DurationSeconds runs from sending to the response header or failure.
	DurationSeconds float64 `json:"duration_seconds"`
}

// RequestTimesView is ALB's three processing times in seconds, -1 when
// not applicable.
type RequestTimesView struct {
	RequestProcessing  float64 `json:"request_processing_seconds"`
	TargetProcessing   float64 `json:"target_processing_seconds"`
	ResponseProcessing float64 `json:"response_processing_seconds"`
}

func seconds(d time.Duration) float64 {
	if d < 0 {
		return -1
	}
	return d.Seconds()
}

func requestView(r *accesslog.Record) RequestView {
	v := RequestView{
		RequestID: r.TraceID, ID: r.ID, Received: r.RequestCreation, Time: r.Time, Listener: r.Listener, Client: r.Client,
		Method: r.Method, URL: r.URL, RulePriority: r.RulePriority, TargetGroup: r.TargetGroup,
		Status: r.ELBStatus, TargetStatus: r.TargetStatus, Detail: r.ErrorDetail, Failed: accesslog.Failed(r),
		Attempts: []AttemptView{}, Action: r.Action, RedirectURL: r.RedirectURL, Stickiness: r.Sticky, AmznTraceID: r.AmznTraceID,
		Classification: r.Classification, ClassificationReason: r.ClassificationReason,
		Timings: RequestTimesView{seconds(r.RequestProcessing), seconds(r.TargetProcessing), seconds(r.ResponseProcessing)},
	}
	if r.Error != failure.None {
		v.ErrorType = r.Error.String()
	}
	for _, a := range r.Attempts {
		av := AttemptView{Target: a.Target, Connection: "fresh", Status: a.Status, Detail: a.Detail, Evidence: a.Evidence, DurationSeconds: a.Duration.Seconds()}
		if a.Class.Reused {
			av.Connection, av.IdleSeconds = "reused", a.Class.Idle.Seconds()
		}
		if a.Class.Type != failure.None {
			av.ErrorType, av.Phase = a.Class.Type.String(), a.Class.Phase.String()
		}
		v.Attempts = append(v.Attempts, av)
	}
	return v
}

// getRequest answers GET /api/v1/requests/{id} with a RequestView, or 404
// when the id is unknown or has left the history.
func (s *Server) getRequest(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.History != nil {
		if rec, ok := s.History.Get(id); ok {
			writeJSON(w, http.StatusOK, requestView(&rec))
			return
		}
	}
	writeError(w, http.StatusNotFound, "request not found", "no recent request has id or X-Request-Id "+strconv.Quote(id)+"; the history keeps the last admin.request_history successes and admin.request_history_failures failures, within admin.request_history_bytes")
}

// listRequests answers GET /api/v1/requests?failed=true&limit=N with
// {"requests": [RequestView...]}, newest first. limit defaults to 100,
// at most 1000.
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxRequestList {
			writeError(w, http.StatusBadRequest, "bad limit", "limit must be an integer in 1..1000, got "+strconv.Quote(l))
			return
		}
		limit = n
	}
	failedOnly := false
	if f := r.URL.Query().Get("failed"); f != "" {
		b, err := strconv.ParseBool(f)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad failed", "failed must be true or false, got "+strconv.Quote(f))
			return
		}
		failedOnly = b
	}
	out := struct {
		Requests []RequestView `json:"requests"`
		// HistoryBytes is what the stored records retain, at most
		// HistoryMaxBytes (admin.request_history_bytes).
		HistoryBytes    int64 `json:"history_bytes"`
		HistoryMaxBytes int64 `json:"history_max_bytes"`
	}{Requests: []RequestView{}}
	if s.History != nil {
		out.HistoryBytes, out.HistoryMaxBytes = s.History.Bytes(), s.History.MaxBytes()
		for _, rec := range s.History.Recent(limit, failedOnly) {
			out.Requests = append(out.Requests, requestView(&rec))
		}
	}
	writeJSON(w, http.StatusOK, out)
}
