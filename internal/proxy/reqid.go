package proxy

import (
	"encoding/hex"
	"math/rand/v2"
)

// newID returns 32 random hex digits, for request ids and connection ids.
func newID() string {
	var b [16]byte
	u, v := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(u>>(8*i)), byte(v>>(8*i))
	}
	return hex.EncodeToString(b[:])
}
