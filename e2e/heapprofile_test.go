package e2e

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The runtime's heap-profile sampling is off before the libraries'
// package initialisation: internal/heapprofile's init runs ahead of
// protobuf, gRPC, etcd and Kubernetes (GODEBUG=inittrace=1 prints each
// package's init in order).
func TestHeapSamplingOffBeforeLibrariesInit(t *testing.T) {
	cmd := exec.Command(binary, "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("fulcrum version: %v\n%s", err, stderr.String())
	}
	heap, heavy := -1, -1
	var first string
	sc := bufio.NewScanner(&stderr)
	for i := 0; sc.Scan(); i++ {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "init" {
			continue
		}
		switch pkg := f[1]; {
		case pkg == "github.com/fulcrumlb/fulcrum/internal/heapprofile":
			heap = i
		case heavy < 0 && (strings.HasPrefix(pkg, "google.golang.org/") || strings.HasPrefix(pkg, "go.etcd.io/") || strings.HasPrefix(pkg, "k8s.io/")):
			heavy, first = i, pkg
		}
	}
	if heap < 0 || heavy < 0 {
		t.Fatalf("inittrace: heapprofile at line %d, first library at %d\n%s", heap, heavy, stderr.String())
	}
	if heap > heavy {
		t.Errorf("heapprofile initialises at line %d, after %s at line %d", heap, first, heavy)
	}
}

// With admin.pprof on, serve samples again at the runtime's default rate:
// the heap profile's header gives twice the rate (runtime/pprof).
func TestHeapProfileSamplesWithPprof(t *testing.T) {
	f := startFulcrum(t, `admin: {address: "127.0.0.1:0", pprof: true}
listeners: [{name: web, address: "127.0.0.1:0", protocol: http, default_target_group: app}]
target_groups:
  - name: app
    health_check: {enabled: false}
    targets: [{address: "`+closedAddr(t)+`"}]
`)
	resp, err := http.Get(f.admin + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	if resp.StatusCode != 200 || !strings.HasSuffix(strings.TrimSpace(line), "@ heap/1048576") {
		t.Errorf("heap profile: %d %q, want a header ending in @ heap/1048576", resp.StatusCode, line)
	}
}
