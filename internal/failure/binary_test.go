package failure

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestClassBinaryRoundTrip: every field of a Class survives its binary
// form, at the documented length, including an idle time over 2^32 ns.
func TestClassBinaryRoundTrip(t *testing.T) {
	for _, c := range []Class{
		{},
		{Reused: true, Idle: 4*time.Second + 7},
		{Type: ConnectionTerminated, Phase: PhaseAwaitHeaders, Reused: true, Idle: 90 * time.Minute, Written: true},
		{Type: HTTPRequestError, ClientTimeout: true},
		{Type: HTTPRequestDenied, RequestStatus: 463},
		{Type: ConnectionRefused, Phase: PhaseConnect, Unprocessed: true},
	} {
		b, err := c.AppendBinary([]byte("x"))
		if err != nil || len(b) != 1+ClassBinaryLen || b[0] != 'x' {
			t.Fatalf("AppendBinary(%+v) = %d bytes, %v", c, len(b), err)
		}
		var got Class
		if err := got.UnmarshalBinary(b[1:]); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
	keep := Class{Type: TLSCertificateError}
	if err := keep.UnmarshalBinary(make([]byte, ClassBinaryLen-1)); !errors.Is(err, errClassBinary) || keep.Type != TLSCertificateError {
		t.Errorf("short data: err %v, class %+v", err, keep)
	}
}
