//lint:file-ignore SA1019 golang.org/x/net/http2 is marked deprecated for net/http's bundled copy; Fulcrum's HTTP/2 is x/net's.

package proxy

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2"
)

// TestWatchConnSeesGoAway: the GOAWAY a target sends is read from the
// frames however the reads split them, after frames of other types.
func TestWatchConnSeesGoAway(t *testing.T) {
	var wire bytes.Buffer
	fr := http2.NewFramer(&wire, nil)
	fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 1})
	fr.WriteData(1, false, []byte("payload"))
	fr.WritePing(false, [8]byte{1})
	fr.WriteGoAway(7, http2.ErrCodeEnhanceYourCalm, []byte("debug data"))
	b := wire.Bytes()
	for _, step := range []int{1, 3, 9, 10, len(b)} {
		w := &watchConn{}
		for i := 0; i < len(b); i += step {
			w.feed(b[i:min(i+step, len(b))])
		}
		last, code, ok := w.goAway()
		if !ok || last != 7 || code != http2.ErrCodeEnhanceYourCalm {
			t.Errorf("reads of %d bytes: GOAWAY %v %d %v", step, ok, last, code)
		}
	}
	w := &watchConn{}
	w.feed(b[:len(b)-20])
	if _, _, ok := w.goAway(); ok {
		t.Error("a GOAWAY seen before its payload arrived")
	}
}
