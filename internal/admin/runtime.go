package admin

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// runtimeTimeout bounds one runtime API connection's idle time.
const runtimeTimeout = 30 * time.Second

// serveRuntime accepts runtime API connections until ln is closed. Each
// connection gets its own goroutine, ended by the connection's close, its
// deadline, or ctx.
func (s *Server) serveRuntime(ctx context.Context, ln net.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		wg.Go(func() {
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			defer c.Close()
			s.runtimeConn(c)
		})
	}
}

// runtimeConn speaks HAProxy's runtime API (management.txt §9.3): a line
// of commands separated by ';' is run and answered, each answer ending
// with an empty line, then the connection closes. "prompt" first keeps
// the connection open and prints "> " before each line, until "quit".
func (s *Server) runtimeConn(c net.Conn) {
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 4096), 64<<10)
	interactive := false
	for {
		c.SetDeadline(time.Now().Add(runtimeTimeout))
		if interactive {
			c.Write([]byte("> "))
		}
		if !sc.Scan() {
			return
		}
		var out bytes.Buffer
		for _, cmd := range strings.Split(sc.Text(), ";") {
			cmd = strings.TrimSpace(cmd)
			switch cmd {
			case "":
				continue
			case "prompt":
				interactive = true
				continue
			case "quit":
				c.Write(out.Bytes())
				return
			}
			s.RunCommand(&out, cmd)
			out.WriteByte('\n')
		}
		if _, err := c.Write(out.Bytes()); err != nil || !interactive {
			return
		}
	}
}

// RunCommand runs one runtime API command and writes its answer to out:
// show info, show stat, show servers state [TG], disable server TG/TARGET, enable
// server TG/TARGET, set server TG/TARGET state ready|drain|maint, help.
// Unknown commands and bad arguments get a one-line explanation.
func (s *Server) RunCommand(out *bytes.Buffer, cmd string) {
	f := strings.Fields(cmd)
	switch {
	case len(f) == 2 && f[0] == "show" && f[1] == "stat":
		WriteStatCSV(out, s.frontends(), s.Groups(), s.queues(), s.now())
	case len(f) == 2 && f[0] == "show" && f[1] == "info":
		s.showInfo(out)
	case len(f) >= 3 && f[0] == "show" && f[1] == "servers" && f[2] == "state":
		only := ""
		if len(f) > 3 {
			only = f[3]
		}
		s.showServersState(out, only)
	case len(f) == 3 && (f[0] == "disable" || f[0] == "enable") && f[1] == "server":
		state := target.AdminMaint
		if f[0] == "enable" {
			state = target.AdminReady
		}
		s.setAdminState(out, f[2], state)
	case len(f) == 5 && f[0] == "set" && f[1] == "server" && f[3] == "state":
		state, ok := target.ParseAdminState(f[4])
		if !ok {
			fmt.Fprintf(out, "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n")
			return
		}
		s.setAdminState(out, f[2], state)
	case len(f) == 1 && f[0] == "help":
		out.WriteString(runtimeHelp)
	default:
		fmt.Fprintf(out, "Unknown command: %q\n%s", cmd, runtimeHelp)
	}
}

const runtimeHelp = `The following commands are valid at this level:
  help                                    : this message
  prompt                                  : toggle interactive mode with prompt
  quit                                    : disconnect
  show info                               : report information about the running process
  show stat                               : report counters for each target (HAProxy CSV)
  show servers state [<target_group>]     : dump volatile target information
  disable server <target_group>/<target>  : put a target in maintenance (no traffic)
  enable server <target_group>/<target>   : end maintenance or drain
  set server <target_group>/<target> state ready|drain|maint : change a target's admin state
`

func (s *Server) setAdminState(out *bytes.Buffer, name string, state target.AdminState) {
	gname, addr, ok := strings.Cut(name, "/")
	if !ok {
		out.WriteString("Require 'backend/server'.\n")
		return
	}
	g := s.group(gname)
	if g == nil {
		out.WriteString("No such backend.\n")
		return
	}
	t := g.Find(addr)
	if t == nil {
		out.WriteString("No such server.\n")
		return
	}
	prev := t.AdminState()
	t.SetAdminState(state)
	g.Refresh()
	if prev != state {
		s.logger().Info("target admin state changed", "target_group", g.Name, "target", t.Address,
			"from", prev.String(), "to", state.String(), "via", "runtime api")
	}
	if s.AdminStateChanged != nil {
		s.AdminStateChanged(g.Name, t.Address, state)
	}
}

// showServersState writes HAProxy's `show servers state` version 1 layout.
// Numeric states: srv_op_state 0 stopped, 2 running, 3 stopping;
// srv_admin_state 0x01 forced maintenance, 0x08 forced drain.
func (s *Server) showServersState(out *bytes.Buffer, only string) {
	now := s.now()
	out.WriteString("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight " +
		"srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state " +
		"bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr " +
		"srv_agent_addr srv_agent_port\n")
	for gi, g := range s.Groups() {
		if only != "" && g.Name != only {
			continue
		}
		for ti, t := range g.Targets() {
			h := t.Health()
			op := 0
			switch h.State {
			case target.StateHealthy, target.StateUnavailable:
				op = 2
			case target.StateDraining:
				op = 3
			}
			adm := 0
			switch t.AdminState() {
			case target.AdminMaint:
				adm = 0x01
			case target.AdminDrain:
				adm = 0x08
			}
			host, port := splitAddr(t.Address)
			snap := t.Stats.Snapshot(now)
			fmt.Fprintf(out, "%d %s %d %s %s %d %d %d %d %d 0 0 0 0 0 0 0 - %s - 0 0 - - 0\n",
				gi+1, g.Name, ti+1, t.Address, host, op, adm, t.Weight(), t.Weight(),
				int64(now.Sub(snap.LastChange).Seconds()), port)
		}
	}
}
