// Command manyconns is the scaling check of issue 15: it opens -n
// keep-alive client connections to a proxy, sends one GET on each and
// reads its answer, holds them all open, and reports the proxy's peak and
// current RSS (VmHWM, VmRSS from /proc/PID/status, proc(5)) and thread
// count. Then it sends a second GET on every connection, to show they all
// still work.
//
//	manyconns -addr 127.0.0.1:8091 -pid $(pgrep -f 'fulcrum serve') -n 10000
//
// The file-descriptor limit (ulimit -n) must exceed -n on both sides.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8091", "the proxy's listener, host:port")
	pid := flag.Int("pid", 0, "the proxy's process id, for its RSS")
	n := flag.Int("n", 10000, "connections to hold open")
	par := flag.Int("parallel", 64, "connections opened at once")
	flag.Parse()
	if err := run(*addr, *pid, *n, *par); err != nil {
		fmt.Fprintln(os.Stderr, "manyconns:", err)
		os.Exit(1)
	}
}

type client struct {
	c  net.Conn
	br *bufio.Reader
}

func (c *client) get(addr string) error {
	c.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c.c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}

func run(addr string, pid, n, par int) error {
	clients := make([]*client, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, par)
	start := time.Now()
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			cl := &client{c: c, br: bufio.NewReaderSize(c, 4096)}
			if err := cl.get(addr); err != nil {
				c.Close()
				errs <- err
				return
			}
			clients[i] = cl
		})
	}
	wg.Wait()
	open := 0
	for _, c := range clients {
		if c != nil {
			open++
		}
	}
	fmt.Printf("connections open: %d of %d (%d failed) in %v\n", open, n, len(errs), time.Since(start).Round(time.Millisecond))
	if len(errs) > 0 {
		fmt.Printf("first error: %v\n", <-errs)
	}
	time.Sleep(2 * time.Second) // let the proxy settle (GC) before reading RSS
	report(pid)
	var failed atomic.Int64
	for _, c := range clients {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if c.get(addr) != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	fmt.Printf("second GET on every open connection: %d failed\n", failed.Load())
	report(pid)
	for _, c := range clients {
		if c != nil {
			c.c.Close()
		}
	}
	return nil
}

func report(pid int) {
	if pid == 0 {
		return
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		fmt.Println("status:", err)
		return
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM") || strings.HasPrefix(line, "VmRSS") || strings.HasPrefix(line, "Threads") {
			fmt.Println(strings.Join(strings.Fields(line), " "))
		}
	}
}
