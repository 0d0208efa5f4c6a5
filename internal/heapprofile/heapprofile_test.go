package heapprofile

import (
	"runtime"
	"testing"
)

func TestInitTurnsSamplingOff(t *testing.T) {
	// The test binary imports the package, so its init has run; the
	// runtime's default rate is 512 KiB unless GODEBUG set another.
	if runtime.MemProfileRate != 0 {
		t.Fatalf("MemProfileRate after init = %d, want 0", runtime.MemProfileRate)
	}
}

func TestRestore(t *testing.T) {
	defer func(r int) { runtime.MemProfileRate = r }(runtime.MemProfileRate)
	for _, tc := range []struct {
		godebug string
		want    int
	}{
		{"", defaultRate},
		{"gctrace=1", defaultRate},
		{"gctrace=1,madvdontneed=1", defaultRate},
		{"memprofilerate=1", 0},
		{"gctrace=1,memprofilerate=4096", 0},
		{"memprofilerate=0,gctrace=1", 0},
		{"xmemprofilerate=1", defaultRate},
		{"memprofilerate=", defaultRate},
	} {
		runtime.MemProfileRate = 0
		Restore(tc.godebug)
		if runtime.MemProfileRate != tc.want {
			t.Errorf("Restore(%q): MemProfileRate = %d, want %d", tc.godebug, runtime.MemProfileRate, tc.want)
		}
	}
}
