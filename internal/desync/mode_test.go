package desync

import "testing"

func TestModeAction(t *testing.T) {
	want := map[Mode][4]Action{
		Monitor:   {Forward, Forward, Forward, Forward},
		Defensive: {Forward, Forward, ForwardThenClose, Reject400AndClose},
		Strictest: {Forward, Reject400, Reject400, Reject400AndClose},
	}
	for m, row := range want {
		for i, tier := range []Tier{Compliant, Acceptable, Ambiguous, Severe} {
			if got := m.Action(tier); got != row[i] {
				t.Errorf("%s.Action(%s) = %s, want %s", m, tier, got, row[i])
			}
		}
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": Defensive, "defensive": Defensive, "monitor": Monitor, "strictest": Strictest} {
		got, err := ParseMode(in)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", in, got, err, want)
		}
		if in != "" && got.String() != in {
			t.Errorf("String() = %q, want %q", got.String(), in)
		}
	}
	if _, err := ParseMode("paranoid"); err == nil {
		t.Error("ParseMode(paranoid): no error")
	}
}
