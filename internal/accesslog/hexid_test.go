package accesslog

import (
	"encoding/hex"
	"testing"
)

// TestPackHexID: a looked-up id of 32 lower-case hex digits packs to the
// bytes the history compares (History.Get); upper case, other characters
// and other lengths do not.
func TestPackHexID(t *testing.T) {
	var raw [16]byte
	for _, c := range []struct {
		s  string
		ok bool
	}{
		{"a858fd476c35633c7b863566598e6937", true},
		{"0123456789abcdef0123456789abcdef", true},
		{"A858fd476c35633c7b863566598e6937", false},
		{"g858fd476c35633c7b863566598e6937", false},
		{"a858fd476c35633c7b863566598e693", false},
		{"a858fd476c35633c7b863566598e6937a", false},
		{"a858fd476c35633c7b863566598e69:7", false},
		{"a858fd476c35633c7b863566598e69/7", false},
		{"a858fd476c35633c7b863566598e69`7", false},
		{"a858fd476c35633c7b863566598e69\xe97", false},
		{"", false},
	} {
		if ok := packHexID(&raw, c.s); ok != c.ok {
			t.Errorf("%q: packs %v, want %v", c.s, ok, c.ok)
		} else if ok && hex.EncodeToString(raw[:]) != c.s {
			t.Errorf("%q packed as %x", c.s, raw)
		}
	}
}

// TestSpellPackedIDs: the packed ids spell the shapes proxy/reqid.go and
// proxy/trace.go make, and a corrupt record's short bytes spell nothing.
func TestSpellPackedIDs(t *testing.T) {
	raw := unhexTest("6b16c3a2da925c1fa3c0fe49a9597813")
	var p [16]byte
	for _, c := range []struct{ got, want string }{
		{spellHexID(&p, raw[:]), "6b16c3a2da925c1fa3c0fe49a9597813"},
		{spellConnID(&p, raw[:]), "TID_6b16c3a2da925c1fa3c0fe49a9597813"},
		{spellTraceRoot(&p, raw[:]), "Root=1-6b16c3a2-da925c1fa3c0fe49a9597813"},
		{spellHexID(&p, raw[:15]), ""},
		{spellConnID(&p, nil), ""},
		{spellTraceRoot(&p, raw[:4]), ""},
	} {
		if c.got != c.want {
			t.Errorf("spelled %q, want %q", c.got, c.want)
		}
	}
	if p != raw {
		t.Errorf("packed copy %x, want %x", p, raw)
	}
}
