package proxy

import (
	"net/http"
	"sync/atomic"
	"time"
)

// dateCache is the Date field's value (RFC 9110 §6.6.1, IMF-fixdate),
// formatted once per second and shared by a listener's connections, as
// nginx and HAProxy keep theirs: formatting it per response cost about
// 1 % of a small request's CPU. It is safe for concurrent use.
type dateCache struct {
	p atomic.Pointer[dateStamp]
}

type dateStamp struct {
	sec int64
	b   []byte
}

// append appends now's Date value ("Thu, 03 Dec 2026 05:50:00 GMT") to
// dst.
func (d *dateCache) append(dst []byte, now time.Time) []byte {
	sec := now.Unix()
	s := d.p.Load()
	if s == nil || s.sec != sec {
		s = &dateStamp{sec: sec, b: now.UTC().AppendFormat(make([]byte, 0, len(http.TimeFormat)), http.TimeFormat)}
		d.p.Store(s)
	}
	return append(dst, s.b...)
}
