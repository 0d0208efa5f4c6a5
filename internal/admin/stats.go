package admin

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// statHeader is HAProxy's `show stat` CSV header up to need_conn_est
// (HAProxy management guide, section 9.1 "CSV format"), then Fulcrum's
// own registered_by column (file, api, dns, etcd or kubernetes; empty on
// FRONTEND and BACKEND rows). Fulcrum fills the columns it can honestly
// fill and leaves the rest empty.
const statHeader = "pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis," +
	"status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type," +
	"rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx," +
	"hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp," +
	"lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc," +
	"agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo," +
	"conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits," +
	"srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur," +
	"used_conn_cur,need_conn_est,registered_by"

// statRow is one CSV row being filled by column name.
type statRow struct {
	index  map[string]int
	values []string
}

func newStatRow(index map[string]int) *statRow {
	return &statRow{index: index, values: make([]string, len(index))}
}

func (r *statRow) set(col, v string)       { r.values[r.index[col]] = v }
func (r *statRow) int(col string, n int64) { r.set(col, strconv.FormatInt(n, 10)) }

// csvField quotes nothing: HAProxy's CSV never quotes, so commas and
// newlines in free text are replaced.
func csvField(s string) string {
	return strings.NewReplacer(",", ";", "\n", " ", "\r", " ").Replace(s)
}

// statCounters are the columns a target row and its BACKEND row share;
// the BACKEND row holds the sums over its targets.
type statCounters struct {
	scur, attempts, econ, eresp, wretr, wredis, chkfail, chkdown int64
	hrsp                                                         [6]int64
	act, weight                                                  int64
	bin, bout                                                    int64
}

func (c *statCounters) add(o statCounters) {
	c.scur += o.scur
	c.attempts += o.attempts
	c.econ += o.econ
	c.eresp += o.eresp
	c.wretr += o.wretr
	c.wredis += o.wredis
	c.chkfail += o.chkfail
	c.chkdown += o.chkdown
	for i := range c.hrsp {
		c.hrsp[i] += o.hrsp[i]
	}
	c.act += o.act
	c.weight += o.weight
	c.bin += o.bin
	c.bout += o.bout
}

// fill writes the shared columns. stot and req_tot both count attempts,
// answered or failed.
func (c statCounters) fill(r *statRow) {
	r.int("scur", c.scur)
	r.int("stot", c.attempts)
	r.int("req_tot", c.attempts)
	r.int("bin", c.bin)
	r.int("bout", c.bout)
	r.int("econ", c.econ)
	r.int("eresp", c.eresp)
	r.int("wretr", c.wretr)
	r.int("wredis", c.wredis)
	r.int("weight", c.weight)
	r.int("act", c.act)
	r.set("bck", "0")
	r.int("chkfail", c.chkfail)
	r.int("chkdown", c.chkdown)
	for i, n := range c.hrsp {
		r.int([...]string{"hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"}[i], n)
	}
	r.set("mode", "http")
}

// Frontend is one listener's client connections for its FRONTEND row:
// open now (scur) and max_connections (slim, 0 unlimited); and bytes of
// all its requests, received from clients (bin) and sent to them (bout).
type Frontend struct {
	Name        string
	Open, Limit int64
	BytesIn     int64
	BytesOut    int64
}

// WriteStatCSV writes HAProxy's `show stat` CSV: the "# " header, a
// FRONTEND row per listener (type 0), then per target group one row per
// target (type 2) and a BACKEND row (type 1). Rows end with a comma, as
// HAProxy's do.
//
// queues, when not nil, holds each group's queue length now and its
// high-water mark: the BACKEND row's qcur and qmax. A target row's are 0,
// since Fulcrum queues per target group, not per target.
// slim is the target's max_connections, empty when unlimited. bin and
// bout are bytes received from and sent to clients: a target row's count
// the requests it answered, a BACKEND row's sum its targets', a FRONTEND
// row's count every request on the listener, answered by a target or not.
func WriteStatCSV(buf *bytes.Buffer, frontends []Frontend, groups []*target.Group, queues map[string]QueueStat, now time.Time) {
	cols := strings.Split(statHeader, ",")
	index := make(map[string]int, len(cols))
	for i, c := range cols {
		index[c] = i
	}
	buf.WriteString("# " + statHeader + ",\n")
	write := func(r *statRow) {
		for _, v := range r.values {
			buf.WriteString(v)
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	for _, f := range frontends {
		r := newStatRow(index)
		r.set("pxname", csvField(f.Name))
		r.set("svname", "FRONTEND")
		r.int("scur", f.Open)
		r.int("bin", f.BytesIn)
		r.int("bout", f.BytesOut)
		if f.Limit > 0 {
			r.int("slim", f.Limit)
		}
		r.set("status", "OPEN")
		r.set("type", "0")
		r.set("mode", "http")
		write(r)
	}
	for _, g := range groups {
		var sum statCounters
		for _, t := range g.Targets() {
			h, snap := t.Health(), t.Stats.Snapshot(now)
			status := serverStatus(t, h)
			c := statCounters{
				scur: t.InFlight(), attempts: snap.TotalResponses + snap.ConnErrors + snap.RespErrors,
				econ: snap.ConnErrors, eresp: snap.RespErrors, wretr: snap.Retries, wredis: snap.Redispatches,
				chkfail: snap.CheckFails, chkdown: snap.CheckDowns, hrsp: snap.HRSP, weight: int64(t.Weight()),
				bin: snap.BytesIn, bout: snap.BytesOut,
			}
			if status == "UP" || status == "no check" {
				c.act = 1
			}
			r := newStatRow(index)
			r.set("pxname", csvField(g.Name))
			r.set("svname", csvField(t.Address))
			r.set("type", "2")
			r.set("status", status)
			c.fill(r)
			r.set("qcur", "0")
			r.set("qmax", "0")
			if m := t.MaxConnections(); m > 0 {
				r.int("slim", m)
			}
			r.int("lastchg", int64(now.Sub(snap.LastChange).Seconds()))
			r.int("downtime", int64(snap.Downtime.Seconds()))
			if ck := snap.LastCheck; ck.Done {
				r.set("check_status", checkStatus(ck))
				if ck.Status > 0 {
					r.int("check_code", int64(ck.Status))
				}
				r.int("check_duration", ck.Latency.Milliseconds())
				r.set("last_chk", csvField(ck.Detail))
				r.set("check_desc", checkDesc(ck))
			} else if h.State != target.StateUnavailable {
				r.set("check_status", "INI")
			}
			r.int("rtime", snap.P50.Milliseconds())
			r.set("addr", csvField(t.Address))
			r.set("registered_by", t.Source().String())
			write(r)
			if c.act == 0 {
				c.weight = 0 // a BACKEND's weight sums its active servers
			}
			sum.add(c)
		}
		be := newStatRow(index)
		be.set("pxname", csvField(g.Name))
		be.set("svname", "BACKEND")
		be.set("type", "1")
		be.set("status", "DOWN")
		if sum.act > 0 {
			be.set("status", "UP")
		}
		sum.fill(be)
		if q, ok := queues[g.Name]; ok {
			be.int("qcur", q.Cur)
			be.int("qmax", q.Max)
		}
		write(be)
	}
}

// serverStatus maps a target to HAProxy's status column: the admin state
// first (MAINT, DRAIN), then health: healthy UP, unhealthy and initial
// DOWN, unavailable (checks off) "no check", draining DRAIN, unused MAINT.
func serverStatus(t *target.Target, h target.Health) string {
	switch t.AdminState() {
	case target.AdminMaint:
		return "MAINT"
	case target.AdminDrain:
		return "DRAIN"
	}
	switch h.State {
	case target.StateHealthy:
		return "UP"
	case target.StateUnavailable:
		return "no check"
	case target.StateDraining:
		return "DRAIN"
	case target.StateUnused:
		return "MAINT"
	}
	return "DOWN"
}

// checkStatus maps a check outcome to HAProxy's check_status
// (src/check.c check_statuses[]): L4 for connect, L6 for TLS, L7 for HTTP.
func checkStatus(c target.CheckOutcome) string {
	if c.OK {
		if c.Status > 0 {
			return "L7OK"
		}
		return "L4OK"
	}
	if c.Status > 0 {
		return "L7STS"
	}
	if c.Class.Type.Timeout() {
		switch {
		case c.Class.Type == failure.HTTPResponseTimeout:
			return "L7TOUT"
		case c.Class.Phase == failure.PhaseTLS:
			return "L6TOUT"
		}
		return "L4TOUT"
	}
	switch c.Class.Type {
	case failure.ConnectionRefused, failure.DestinationIPUnroutable, failure.DNSError:
		return "L4CON"
	case failure.TLSProtocolError, failure.TLSCertificateError:
		return "L6RSP"
	case failure.ConnectionTerminated, failure.HTTPProtocolError, failure.HTTPResponseHeaderSectionSize, failure.HTTPResponseIncomplete:
		return "L7RSP"
	}
	return "UNK"
}

// checkDesc is HAProxy's human-readable check_desc for a status.
func checkDesc(c target.CheckOutcome) string {
	switch checkStatus(c) {
	case "L4OK":
		return "Layer4 check passed"
	case "L7OK":
		return "Layer7 check passed"
	case "L7STS":
		return "Layer7 wrong status"
	case "L4TOUT":
		return "Layer4 timeout"
	case "L4CON":
		return "Layer4 connection problem"
	case "L6TOUT":
		return "Layer6 timeout"
	case "L6RSP":
		return "Layer6 invalid response"
	case "L7TOUT":
		return "Layer7 timeout"
	case "L7RSP":
		return "Layer7 invalid response"
	}
	return "Unknown"
}

// stats answers GET /stats?format=csv (HAProxy's stats page CSV export).
// Other formats are not offered.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	if f := r.URL.Query().Get("format"); f != "csv" {
		writeError(w, http.StatusBadRequest, "unsupported format", "only /stats?format=csv is served; for JSON use /api/v1/target-groups")
		return
	}
	var buf bytes.Buffer
	WriteStatCSV(&buf, s.frontends(), s.Groups(), s.queues(), s.now())
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Write(buf.Bytes())
}

// splitAddr splits host:port for show servers state; a bad address keeps
// the whole string as host.
func splitAddr(a string) (string, string) {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return a, "0"
	}
	return host, port
}

// QueueStat is a target group queue's length now and its high-water
// mark, in requests.
type QueueStat struct{ Cur, Max int64 }

// queues reads the queue lengths and maxima, nil without Queues.
func (s *Server) queues() map[string]QueueStat {
	if s.Queues == nil {
		return nil
	}
	out := map[string]QueueStat{}
	for name, n := range s.Queues() {
		out[name] = QueueStat{Cur: n}
	}
	if s.QueueMax != nil {
		for name, n := range s.QueueMax() {
			q := out[name]
			q.Max = n
			out[name] = q
		}
	}
	return out
}

// frontends reads the listeners' loads, nil without Frontends.
func (s *Server) frontends() []Frontend {
	if s.Frontends == nil {
		return nil
	}
	return s.Frontends()
}
