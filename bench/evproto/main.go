//go:build linux

// Command evproto runs one of the event-loop proxy prototypes of issue 15
// (package internal/evloop) for bench/compare: a plain-TCP HTTP/1.1
// reverse proxy over the -targets, round robin, keep-alive to them, with
// an optional access log. It stops cleanly on SIGTERM or SIGINT.
//
//	evproto -layer epoll|gnet -listen 127.0.0.1:PORT -targets host:port,host:port [-loops N] [-access-log PATH]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/fulcrumlb/fulcrum/internal/evloop"
)

func main() {
	layer := flag.String("layer", "epoll", "I/O layer: epoll (raw epoll) or gnet (gnet v2)")
	listen := flag.String("listen", "127.0.0.1:8097", "IPv4 host:port to listen on")
	targets := flag.String("targets", "", "comma-separated IPv4 host:port targets")
	loops := flag.Int("loops", 0, "event loops (default: one per CPU)")
	accessLog := flag.String("access-log", "", "access log file (default: none)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "evproto: cpu profile:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := run(*layer, *listen, *targets, *loops, *accessLog); err != nil {
		fmt.Fprintln(os.Stderr, "evproto:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

type server interface {
	Close() error
	Stats() evloop.Stats
}

func run(layer, listen, targets string, loops int, accessLog string) error {
	cfg := evloop.Config{Listen: listen, Targets: strings.Split(targets, ","), Loops: loops}
	var logFile *os.File
	if accessLog != "" {
		f, err := os.OpenFile(accessLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("access log: %w", err)
		}
		logFile = f
		cfg.AccessLog = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var s server
	var err error
	switch layer {
	case "epoll":
		s, err = evloop.StartEpoll(cfg)
	case "gnet":
		s, err = evloop.StartGnet(cfg)
	default:
		err = fmt.Errorf("unknown layer %q (epoll or gnet)", layer)
	}
	if err != nil {
		return err
	}
	<-ctx.Done()
	err = s.Close()
	st := s.Stats()
	fmt.Fprintf(os.Stderr, "evproto: %d requests, %d target connections dialled, %d reused from the pool, %d own answers\n",
		st.Requests, st.Dials, st.Reused, st.Answered)
	if logFile != nil {
		if e := logFile.Close(); err == nil {
			err = e
		}
	}
	return err
}
