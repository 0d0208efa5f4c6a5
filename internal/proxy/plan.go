package proxy

import (
	"fmt"
	"net"
	"reflect"
	"slices"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

// listenerAction is what a reload does to one listener.
type listenerAction string

const (
	listenerAdd    listenerAction = "add"    // a new name: bind a new socket
	listenerRemove listenerAction = "remove" // gone from the file: stop accepting, drain
	listenerMove   listenerAction = "move"   // new address: bind the new one, drain the old one
	listenerRebind listenerAction = "rebind" // same address, new protocol or reuse_port: bind the new socket beside the old one, then drain the old one
	listenerKeep   listenerAction = "keep"   // same socket: new rules, certificate and limits only
)

// listenerStep is one listener's part of a reload plan. Limits lists the
// limit changes of a kept listener ("max_connections 0 -> 10").
type listenerStep struct {
	Name    string
	Action  listenerAction
	Address string // the new address; the old one for listenerRemove
	Limits  []string
	// Rules is set when a kept listener's rules, default target group or
	// TLS settings changed.
	Rules bool
}

// groupAction is what a reload does to one target group.
type groupAction string

const (
	groupAdd    groupAction = "add"
	groupRemove groupAction = "remove" // its targets drain
	groupChange groupAction = "change" // targets, connection or health check settings changed
)

// groupStep is one target group's part of a reload plan. Targets are
// named by address and are the file's view: targets registered at run
// time, or still draining, are reconciled by commit.
type groupStep struct {
	Name           string
	Action         groupAction
	AddTargets     []string
	RemoveTargets  []string
	Connections    bool // connection settings changed: idle connections close
	HealthChecks   bool // health check settings changed: checks restart
	Settings       bool // any group setting changed (algorithm, queue_size, the two above...)
	TargetSettings bool // a kept target's weight or max_connections changed
	DrainsTargetsN int  // for groupRemove: targets in the old file
}

// reloadPlan lists every change a reload from one configuration to
// another makes. It is built by plan, which touches nothing, and applied
// by Server.commit.
type reloadPlan struct {
	Listeners []listenerStep // in the order of the new file, removed ones last
	Groups    []groupStep    // in the order of the new file, removed ones last
	// RestartOnly is set when access_log, health_check_log or admin
	// changed: those take effect at the next restart.
	RestartOnly bool
}

// plan compares the running configuration old with next and lists every
// change. It is pure. A change that cannot be made without a moment when
// nobody accepts on an address is refused: the error is a *config.Error
// with one problem per listener, naming the field ("listeners[0].protocol").
// A socket on the same address can be opened beside the old one only when
// both set reuse_port (SO_REUSEPORT, socket(7)), or when the address asks
// for a free port (port 0).
func plan(old, next *config.Config) (reloadPlan, error) {
	var p reloadPlan
	var problems []config.Problem
	oldL := map[string]config.Listener{}
	for _, l := range old.Listeners {
		oldL[l.Name] = l
	}
	newL := map[string]bool{}
	for i, lc := range next.Listeners {
		newL[lc.Name] = true
		ol, ok := oldL[lc.Name]
		step := listenerStep{Name: lc.Name, Address: lc.Address}
		switch {
		case !ok:
			step.Action = listenerAdd
		case ol.Address != lc.Address:
			step.Action = listenerMove
		case ol.Protocol == lc.Protocol && ol.ReusePort == lc.ReusePort:
			step.Action = listenerKeep
			step.Limits = listenerLimits(ol, lc)
			step.Rules = !reflect.DeepEqual(withoutLimits(ol), withoutLimits(lc))
		case anyPort(lc.Address) || (ol.ReusePort && lc.ReusePort):
			step.Action = listenerRebind
		default:
			field, what := "reuse_port", "reuse_port"
			if ol.Protocol != lc.Protocol {
				field, what = "protocol", "the protocol"
			}
			problems = append(problems, config.Problem{
				Path: fmt.Sprintf("listeners[%d].%s", i, field),
				Msg: fmt.Sprintf("listener %s: changing %s on the same address cannot be done without a gap; "+
					"use a new address, set reuse_port on both the old and the new listener, or restart", lc.Name, what),
			})
			continue
		}
		p.Listeners = append(p.Listeners, step)
	}
	for _, ol := range old.Listeners {
		if !newL[ol.Name] {
			p.Listeners = append(p.Listeners, listenerStep{Name: ol.Name, Action: listenerRemove, Address: ol.Address})
		}
	}
	if len(problems) > 0 {
		return reloadPlan{}, &config.Error{Problems: problems}
	}

	oldG := map[string]config.TargetGroup{}
	for _, g := range old.TargetGroups {
		oldG[g.Name] = g
	}
	newG := map[string]bool{}
	for _, tc := range next.TargetGroups {
		newG[tc.Name] = true
		og, ok := oldG[tc.Name]
		if !ok {
			p.Groups = append(p.Groups, groupStep{Name: tc.Name, Action: groupAdd, AddTargets: targetAddrs(tc.Targets)})
			continue
		}
		step := groupStep{Name: tc.Name, Action: groupChange,
			Connections:  transportKey(og) != transportKey(tc),
			HealthChecks: checkerKey(og) != checkerKey(tc),
		}
		was, is := targetAddrs(og.Targets), targetAddrs(tc.Targets)
		for _, a := range is {
			if !slices.Contains(was, a) {
				step.AddTargets = append(step.AddTargets, a)
			}
		}
		for _, a := range was {
			if !slices.Contains(is, a) {
				step.RemoveTargets = append(step.RemoveTargets, a)
			}
		}
		ot, nt := og, tc
		ot.Targets, nt.Targets = nil, nil
		step.Settings = !reflect.DeepEqual(ot, nt)
		for _, ot := range og.Targets {
			for _, nt := range tc.Targets {
				if ot.Address == nt.Address && !reflect.DeepEqual(ot, nt) {
					step.TargetSettings = true
				}
			}
		}
		if step.Settings || step.TargetSettings || step.AddTargets != nil || step.RemoveTargets != nil {
			p.Groups = append(p.Groups, step)
		}
	}
	for _, og := range old.TargetGroups {
		if !newG[og.Name] {
			p.Groups = append(p.Groups, groupStep{Name: og.Name, Action: groupRemove, DrainsTargetsN: len(og.Targets)})
		}
	}
	p.RestartOnly = !reflect.DeepEqual(next.AccessLog, old.AccessLog) || !reflect.DeepEqual(next.HealthCheckLog, old.HealthCheckLog) ||
		!reflect.DeepEqual(next.Admin, old.Admin)
	return p, nil
}

// listenerLimits lists the limit changes of a listener that keeps its
// socket.
func listenerLimits(a, b config.Listener) []string {
	var out []string
	if a.MaxConnections != b.MaxConnections {
		out = append(out, fmt.Sprintf("max_connections %d -> %d", a.MaxConnections, b.MaxConnections))
	}
	if a.IdleTimeout != b.IdleTimeout {
		out = append(out, fmt.Sprintf("idle_timeout %s -> %s; it applies to waits for targets now, to HTTP/1.1 client connections from their next request, and to HTTP/2 connections from the next one (open ones get GOAWAY, finish their streams and reconnect)", a.IdleTimeout, b.IdleTimeout))
	}
	if a.DesyncMitigationMode != b.DesyncMitigationMode {
		out = append(out, fmt.Sprintf("desync_mitigation_mode %s -> %s", a.DesyncMitigationMode, b.DesyncMitigationMode))
	}
	if a.RequestHeaderTimeout != b.RequestHeaderTimeout {
		out = append(out, fmt.Sprintf("request_header_timeout %s -> %s", a.RequestHeaderTimeout, b.RequestHeaderTimeout))
	}
	for _, c := range []struct {
		name string
		a, b int64
	}{
		{"max_header_bytes", int64(a.MaxHeaderBytes), int64(b.MaxHeaderBytes)},
		{"max_headers", int64(a.MaxHeaders), int64(b.MaxHeaders)},
		{"max_uri_bytes", int64(a.MaxURIBytes), int64(b.MaxURIBytes)},
		{"max_request_body_bytes", a.MaxRequestBodyBytes, b.MaxRequestBodyBytes},
	} {
		if c.a != c.b {
			out = append(out, fmt.Sprintf("%s %d -> %d", c.name, c.a, c.b))
		}
	}
	if a.H2C != b.H2C {
		out = append(out, fmt.Sprintf("h2c %v -> %v; it applies to new connections", a.H2C, b.H2C))
	}
	return out
}

// withoutLimits is l without the settings a kept listener takes at its
// next request (listenerLimits), for comparing the rest.
func withoutLimits(l config.Listener) config.Listener {
	l.MaxConnections, l.IdleTimeout, l.DesyncMitigationMode, l.RequestHeaderTimeout = 0, 0, "", 0
	l.MaxHeaderBytes, l.MaxHeaders, l.MaxURIBytes, l.MaxRequestBodyBytes, l.H2C = 0, 0, 0, 0, false
	return l
}

func targetAddrs(ts []config.Target) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Address)
	}
	return out
}

// anyPort reports whether addr asks for a free port (port 0), so a new
// socket never collides with the old one.
func anyPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}
