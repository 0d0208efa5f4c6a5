// Command grpcload is the load client of bench/compare's grpc-c50
// scenario: -c workers, each with its own gRPC connection (HTTP/2 with
// one stream in flight), call bench/grpcbackend's unary SayHello back to
// back for -d. It prints its summary in wrk's format (requests, the 50%
// and 99% latency lines of --latency, errors as "Non-2xx or 3xx
// responses", Requests/sec), which bench/compare reads with the same
// parser as wrk's. A failed call counts as an error, as a non-2xx
// response does in wrk.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const method = "/fulcrum.bench.Greeter/SayHello"

func main() {
	addr := flag.String("addr", "127.0.0.1:8091", "host:port to call")
	conns := flag.Int("c", 50, "connections, one worker and one stream in flight each")
	dur := flag.Duration("d", 5*time.Second, "duration")
	useTLS := flag.Bool("tls", false, "TLS with ALPN h2 (certificate not verified) instead of h2c")
	flag.Parse()
	creds := insecure.NewCredentials()
	if *useTLS {
		creds = credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})
	}
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()
	type tally struct {
		lat    []time.Duration
		errors int64
		first  error
	}
	tallies := make([]tally, *conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range tallies {
		cc, err := grpc.NewClient("passthrough:///"+*addr, grpc.WithTransportCredentials(creds))
		if err != nil {
			log.Fatal(err)
		}
		defer cc.Close()
		wg.Go(func() {
			t := &tallies[i]
			in, out := wrapperspb.String("bench"), new(wrapperspb.StringValue)
			for ctx.Err() == nil {
				s := time.Now()
				err := cc.Invoke(ctx, method, in, out)
				if ctx.Err() != nil {
					return // cut off by the deadline: not counted
				}
				if err != nil {
					if t.errors++; t.first == nil {
						t.first = err
					}
					continue
				}
				t.lat = append(t.lat, time.Since(s))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	var errors int64
	var first error
	for _, t := range tallies {
		all = append(all, t.lat...)
		errors += t.errors
		if first == nil {
			first = t.first
		}
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))]
	}
	fmt.Printf("Running %s test @ grpc://%s%s\n  %d connections\n  Latency Distribution\n", *dur, *addr, method, *conns)
	fmt.Printf("     50%%  %.2fms\n     99%%  %.2fms\n", ms(pct(0.50)), ms(pct(0.99)))
	fmt.Printf("  %d requests in %.2fs\n", len(all), elapsed.Seconds())
	if errors > 0 {
		fmt.Printf("  Non-2xx or 3xx responses: %d\n", errors)
		fmt.Printf("  First error: %v\n", first)
	}
	fmt.Printf("Requests/sec: %.2f\n", float64(len(all))/elapsed.Seconds())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
