package haproxy

import "testing"

// TestNotCombinedLog: an nginx/Apache combined line's "[dd/Mon/yyyy:hh:mm:ss
// -0700]" has no milliseconds, which HAProxy's accept date always has.
func TestNotCombinedLog(t *testing.T) {
	for _, l := range []string{
		`127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"`,
		`10.0.0.9 - - [29/Oct/2024:14:51:09 +0000] "GET /api HTTP/1.1" 502 157 "-" "curl/8.5.0" 10.0.0.5:8080 502 0.001`,
	} {
		if Sniff([]byte(l)) {
			t.Errorf("sniffed as HAProxy: %s", l)
		}
	}
}
