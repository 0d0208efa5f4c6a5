//go:build linux

package netloop

import (
	"fmt"
	"io"
	"net"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWritesWaitForTheirTurn readies two tasks in one loop pass, each
// writing to its own socket: the first task's write waits until the
// second has run up to its own write, and then both go out, in the order
// the tasks came (turn.go). Both clients get their bytes.
func TestWritesWaitForTheirTurn(t *testing.T) {
	g := startLoops(t, 1)
	ca, la := pair(t)
	cb, lb := pair(t)
	a, b := adopt(t, g, la), adopt(t, g, lb)
	var steps []string
	done := make(chan struct{}, 2)
	writer := func(name string, c *Conn) func() {
		return func() {
			steps = append(steps, name+" writes")
			if _, err := io.WriteString(c, name); err != nil {
				steps = append(steps, name+" failed: "+err.Error())
			}
			steps = append(steps, name+" wrote")
			done <- struct{}{}
		}
	}
	before := g.Stats().Turns
	// Spawned from a task, both land in the loop's mail before it is
	// drained again, so they are readied in the same pass.
	spawn(t, a, func(*Conn) {
		a.Spawn(writer("a", a))
		b.Spawn(writer("b", b))
	})
	recv(t, done, "first writer")
	recv(t, done, "second writer")
	want := []string{"a writes", "b writes", "a wrote", "b wrote"}
	if diff := cmp.Diff(want, steps); diff != "" {
		t.Errorf("steps of two tasks in one pass (-want +got):\n%s", diff)
	}
	if got := g.Stats().Turns - before; got != 2 {
		t.Errorf("writes that waited for their turn: %d, want 2", got)
	}
	for name, c := range map[string]net.Conn{"a": ca, "b": cb} {
		buf := make([]byte, 1)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != name {
			t.Errorf("client %s read %q, %v; want %q", name, buf, err, name)
		}
	}
}

// TestLoneWriteDoesNotWait: a task alone in its pass writes at once, so
// a lightly loaded loop adds no turn to a request.
func TestLoneWriteDoesNotWait(t *testing.T) {
	g := startLoops(t, 1)
	before := g.Stats().Turns
	client, _ := serveOne(t, g, echo)
	for _, msg := range []string{"one", "two", "three"} {
		if err := roundTrip(client, msg); err != nil {
			t.Fatalf("echo: %v", err)
		}
	}
	if got := g.Stats().Turns - before; got != 0 {
		t.Errorf("writes of a lone task that waited for a turn: %d, want 0", got)
	}
}

// TestTurnsAreBounded readies more writers in one pass than maxTurns:
// the first maxTurns write once the last of them has come to its write,
// before the rest run, so no more than maxTurns tasks hold their buffers
// for a turn at once. Every client gets its byte.
func TestTurnsAreBounded(t *testing.T) {
	g := startLoops(t, 1)
	n := maxTurns + 8
	clients := make([]net.Conn, n)
	conns := make([]*Conn, n)
	for i := range n {
		var server net.Conn
		clients[i], server = pair(t)
		conns[i] = adopt(t, g, server)
	}
	var steps []string
	done := make(chan struct{}, n)
	spawn(t, conns[0], func(*Conn) {
		for i, c := range conns {
			c.Spawn(func() {
				steps = append(steps, fmt.Sprint(i, " writes"))
				if _, err := c.Write([]byte{byte(i)}); err != nil {
					steps = append(steps, fmt.Sprint(i, " failed: ", err))
				}
				steps = append(steps, fmt.Sprint(i, " wrote"))
				done <- struct{}{}
			})
		}
	})
	for range n {
		recv(t, done, "writer")
	}
	at := func(step string) int {
		i := slices.Index(steps, step)
		if i < 0 {
			t.Fatalf("no step %q in %q", step, steps)
		}
		return i
	}
	last, next := fmt.Sprint(maxTurns-1, " writes"), fmt.Sprint(maxTurns, " writes")
	if first := at("0 wrote"); first < at(last) || first > at(next) {
		t.Errorf("the first writer wrote at step %d; want after %q (step %d) and before %q (step %d)",
			first, last, at(last), next, at(next))
	}
	for i, c := range clients {
		buf := make([]byte, 1)
		if _, err := io.ReadFull(c, buf); err != nil || buf[0] != byte(i) {
			t.Errorf("client %d read %v, %v; want [%d]", i, buf, err, i)
		}
	}
}
