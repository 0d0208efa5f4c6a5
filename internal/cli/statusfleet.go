package cli

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/cluster"
)

// fleetStatus writes the fleet view of /api/v1/fleet: the instances,
// whether this one reaches etcd, and per target the instances' states
// with the verdicts that tell a dead target from a path problem. json
// writes the answer as it came.
func (c *adminClient) fleetStatus(ctx context.Context, w *bytes.Buffer, output string) error {
	var f cluster.Fleet
	raw, err := c.get(ctx, "/api/v1/fleet", &f)
	if err != nil {
		return err
	}
	if output == "json" {
		w.Write(raw)
		return nil
	}
	writeFleet(w, f, time.Now(), max(c.width, statusWidth))
	return nil
}

func writeFleet(w *bytes.Buffer, f cluster.Fleet, now time.Time, width int) {
	names := make([]string, len(f.Instances))
	for i, in := range f.Instances {
		names[i] = in.Instance
	}
	fmt.Fprintf(w, "fleet: %d instances (%s); this is %s\n", len(names), strings.Join(names, ", "), f.Instance)
	if f.Connected {
		fmt.Fprintln(w, "etcd: connected")
	} else {
		since := ""
		if f.ErrorSince != nil {
			since = " since " + f.ErrorSince.Format(time.RFC3339)
		}
		fmt.Fprintln(w, truncateWords(fmt.Sprintf("etcd: UNREACHABLE%s, serving with what %s knows: %s", since, f.Instance, f.Error), width))
		if f.LastSync != nil {
			fmt.Fprintf(w, "the other instances' views are as of %s (%s ago)\n", f.LastSync.Format(time.RFC3339), now.Sub(*f.LastSync).Round(time.Second))
		}
	}
	for _, t := range f.Targets {
		fmt.Fprintf(w, "\n%s %s\n", t.TargetGroup, t.Address)
		for _, o := range t.Seen {
			top, n := "", int64(0)
			for et, c := range o.Errors5m {
				if c > n || (c == n && et < top) {
					top, n = et, c
				}
			}
			line := fmt.Sprintf("  %-12s %-11s %-9s", truncate(o.Instance, 12), o.State, o.RegisteredBy)
			if n > 0 {
				line += fmt.Sprintf(" %s ×%d in 5m", top, n)
			}
			if o.Ejected {
				line += " EJECTED"
			}
			fmt.Fprintln(w, strings.TrimRight(truncate(line, width), " "))
		}
		for _, v := range t.Verdicts {
			fmt.Fprintln(w, truncateWords("  → "+v.Text, width))
		}
	}
}
