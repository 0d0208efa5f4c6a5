// Command genalb writes a synthetic ALB access log of a given size for
// bench/analyze-speed.sh: realistic field widths, 12 targets, and a few
// percent of failures with the documented signatures (refused, keep-alive
// race, connect timeout, target 5xx, no targets, fixed-response 503).
// The output is deterministic for a given seed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"time"
)

func main() {
	size := flag.Int64("size", 1<<30, "bytes to write (approximately)")
	out := flag.String("out", "-", "output file, - for stdout")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	w := os.Stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	defer bw.Flush()
	rnd := rand.New(rand.NewPCG(*seed, 2))
	t := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	uas := []string{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36", "curl/8.5.0", "Go-http-client/1.1"}
	paths := []string{"/", "/api/v1/cart", "/api/v1/items?page=2", "/static/app.js", "/healthz", "/login"}
	var written int64
	for i := 0; written < *size; i++ {
		t = t.Add(time.Duration(rnd.IntN(2000)) * time.Microsecond)
		target := fmt.Sprintf("10.0.%d.%d:8080", rnd.IntN(3), 10+rnd.IntN(4))
		timings, elb, tgt, actions, group := fmt.Sprintf("0.000 0.%03d 0.000", rnd.IntN(200)), "200", "200", "forward", "web"
		switch r := rnd.IntN(1000); {
		case r < 8:
			timings, elb, tgt = "-1 -1 -1", "502", "-"
		case r < 14:
			timings, elb, tgt = "0.001 "+fmt.Sprintf("%d.%03d", rnd.IntN(60), rnd.IntN(1000))+" -1", "502", "-"
		case r < 17:
			timings, elb, tgt = "-1 -1 -1", "504", "-"
		case r < 25:
			elb, tgt = "500", "500"
		case r < 27:
			timings, elb, tgt, target = "-1 -1 -1", "503", "-", "-"
		case r < 28:
			timings, elb, tgt, target, actions, group = "-1 -1 -1", "503", "-", "-", "fixed-response", ""
		case r < 60:
			elb, tgt = "404", "404"
		}
		arn := "-"
		if group != "" {
			arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/" + group + "/73e2d6bc24d8a067"
		}
		ts := t.Format("2006-01-02T15:04:05.000000Z")
		n, _ := fmt.Fprintf(bw, "https %s app/my-loadbalancer/50dc6c495c0c9188 203.0.113.%d:%d %s %s %s %s %d %d \"GET https://www.example.com:443%s HTTP/1.1\" \"%s\" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 %s \"Root=1-%08x-%024x\" \"www.example.com\" \"arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012\" 0 %s \"%s\" \"-\" \"-\" \"%s\" \"%s\" \"-\" \"-\" TID_%032x\n",
			ts, rnd.IntN(250), 1024+rnd.IntN(60000), target, timings, elb, tgt, 200+rnd.IntN(800), 300+rnd.IntN(5000),
			paths[rnd.IntN(len(paths))], uas[rnd.IntN(len(uas))], arn, rnd.Uint32(), rnd.Uint64(), ts, actions, target, tgt, rnd.Uint64())
		written += int64(n)
	}
}
