package admin

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

func TestRegisteredBy(t *testing.T) {
	now := time.Now()
	var ts []*target.Target
	for i, src := range []target.Source{target.SourceFile, target.SourceAPI, target.SourceDNS, target.SourceEtcd, target.SourceKubernetes} {
		tt := target.New("g", "10.0.0."+string(rune('1'+i))+":80", 1, target.Health{State: target.StateHealthy, Since: now})
		tt.SetSource(src)
		ts = append(ts, tt)
	}
	g := target.NewGroup("g", ts)
	v := groupView(g, now)
	var got []string
	for _, tv := range v.Targets {
		got = append(got, tv.RegisteredBy)
	}
	if strings.Join(got, ",") != "file,api,dns,etcd,kubernetes" {
		t.Errorf("registered_by %v", got)
	}
	var buf bytes.Buffer
	WriteStatCSV(&buf, nil, []*target.Group{g}, nil, now)
	lines := strings.Split(buf.String(), "\n")
	if !strings.HasSuffix(lines[0], ",need_conn_est,registered_by,") {
		t.Errorf("header %q", lines[0])
	}
	if !strings.HasSuffix(lines[3], ",dns,") || !strings.HasSuffix(lines[5], ",kubernetes,") || !strings.HasSuffix(lines[6], ",,") {
		t.Errorf("rows:\n%s", buf.String())
	}
}
