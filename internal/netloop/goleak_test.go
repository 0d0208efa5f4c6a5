package netloop

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: every
// test closes its Group, so its loops, the goroutines of Blocking and of
// offloaded tasks, and the tests' own accept loops must all have ended.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
