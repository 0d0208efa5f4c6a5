package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Controller changes the running load balancer; the proxy server
// implements it. Errors of Register and Deregister wrap
// target.ErrUnknownGroup, target.ErrUnknownTarget or
// target.ErrTargetExists where those apply.
type Controller interface {
	Register(ctx context.Context, group, address string, weight int) error
	Deregister(ctx context.Context, group, address string) error
	Reload(ctx context.Context) ([]string, error)
	ConfigInfo() config.Info
}

// RegisterRequest is the body of POST /api/v1/target-groups/{name}/targets
// (ALB RegisterTargets with one target).
type RegisterRequest struct {
	Address string `json:"address"`
	// Weight defaults to 1.
	Weight int `json:"weight"`
}

// controlError maps a Controller error to its HTTP status.
func controlError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, target.ErrUnknownGroup), errors.Is(err, target.ErrUnknownTarget):
		writeError(w, http.StatusNotFound, "not found", err.Error())
	case errors.Is(err, target.ErrTargetExists):
		writeError(w, http.StatusConflict, "conflict", err.Error())
	default:
		writeError(w, http.StatusBadRequest, "bad request", err.Error())
	}
}

// registerTarget answers POST /api/v1/target-groups/{name}/targets with
// 201 and the new target's TargetView (state initial, or unavailable
// when checks are off).
func (s *Server) registerTarget(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req RegisterRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad request", `body must be {"address": "host:port", "weight": 1}: `+err.Error())
		return
	}
	if req.Weight == 0 {
		req.Weight = config.DefaultTargetWeight
	}
	if err := s.Control.Register(r.Context(), name, req.Address, req.Weight); err != nil {
		controlError(w, err)
		return
	}
	s.writeTarget(w, http.StatusCreated, name, req.Address)
}

// deregisterTarget answers DELETE
// /api/v1/target-groups/{name}/targets/{address} with 202 and the
// target's TargetView, now draining.
func (s *Server) deregisterTarget(w http.ResponseWriter, r *http.Request) {
	name, addr := r.PathValue("name"), r.PathValue("address")
	if err := s.Control.Deregister(r.Context(), name, addr); err != nil {
		controlError(w, err)
		return
	}
	s.writeTarget(w, http.StatusAccepted, name, addr)
}

func (s *Server) writeTarget(w http.ResponseWriter, status int, group, addr string) {
	if g := s.group(group); g != nil {
		if t := g.Find(addr); t != nil {
			writeJSON(w, status, targetView(t, t.Health(), s.now()))
			return
		}
	}
	writeJSON(w, status, struct{}{})
}

// ProblemView is one configuration problem.
type ProblemView struct {
	Path    string `json:"path"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// ReloadView is a reload's outcome: POST /api/v1/reload answers it (200 on
// success, 422 when the file has problems), and GET /api/v1/config shows
// the last one.
type ReloadView struct {
	Time     time.Time     `json:"time"`
	Result   string        `json:"result"`
	Error    string        `json:"error,omitempty"`
	Problems []ProblemView `json:"problems,omitempty"`
	Changes  []string      `json:"changes,omitempty"`
}

func reloadView(o *config.ReloadOutcome) *ReloadView {
	if o == nil {
		return nil
	}
	v := &ReloadView{Time: o.At, Result: "success", Error: o.Error, Changes: o.Changes}
	if !o.OK {
		v.Result = "failure"
	}
	for _, p := range o.Problems {
		v.Problems = append(v.Problems, ProblemView{Path: p.Path, Line: p.Line, Message: p.Msg})
	}
	return v
}

// reload answers POST /api/v1/reload.
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	_, err := s.Control.Reload(r.Context())
	v := reloadView(s.Control.ConfigInfo().LastReload)
	if v == nil {
		v = &ReloadView{Time: s.now(), Result: "failure"}
	}
	if err != nil {
		v.Result, v.Error = "failure", err.Error()
		writeJSON(w, http.StatusUnprocessableEntity, v)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// ConfigView is GET /api/v1/config: the active configuration file's text,
// when it was loaded, reload counts and the last reload's outcome.
type ConfigView struct {
	Path     string    `json:"path"`
	LoadedAt time.Time `json:"loaded_at"`
	Source   string    `json:"source"`
	Reloads  struct {
		Success int64 `json:"success"`
		Failure int64 `json:"failure"`
	} `json:"reloads"`
	LastReload *ReloadView `json:"last_reload"`
	// LastReloadError is the last failed reload's error while no reload
	// succeeded since; empty otherwise.
	LastReloadError string `json:"last_reload_error,omitempty"`
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	info := s.Control.ConfigInfo()
	v := ConfigView{Path: info.Path, LoadedAt: info.LoadedAt, Source: info.Source, LastReload: reloadView(info.LastReload)}
	v.Reloads.Success, v.Reloads.Failure = info.Reloads-info.ReloadFailures, info.ReloadFailures
	if lr := info.LastReload; lr != nil && !lr.OK {
		v.LastReloadError = lr.Error
	}
	writeJSON(w, http.StatusOK, v)
}
