package main

// scenario is one workload: how wrk drives the load balancer, and which
// targets the load balancer forwards to.
type scenario struct {
	name  string
	conns int
	// path is requested on the load balancer.
	path string
	// wrkArgs are extra wrk arguments (headers, scripts).
	wrkArgs []string
	// script, when set, is a wrk Lua script written to the run directory.
	script string
	// https puts TLS on the load balancer's listener.
	https bool
	// targets is "two" (the two nginx backends), "refused" (the two plus a
	// closed port, with health checks on), "thousand" (1,000 ports of
	// one nginx), "thousand2" (two ports of that same nginx: the
	// 2-target side of the 1,000-target comparison, on the same backend
	// process) or "grpc" (the two bench/grpcbackend greeters).
	targets string
	// grpc makes the load unary gRPC calls by bench/grpcload, over h2c
	// (HTTP/2 with TLS when https), to a GRPC target group.
	grpc bool
}

// scenarios returns the workloads in run order.
func scenarios() []scenario {
	return []scenario{
		{name: "get-c50", conns: 50, path: "/", targets: "two"},
		{name: "get-c200", conns: 200, path: "/", targets: "two"},
		{name: "close-c50", conns: 50, path: "/", wrkArgs: []string{"-H", "Connection: close"}, targets: "two"},
		{name: "64k-c50", conns: 50, path: "/64k", targets: "two"},
		{name: "post16k-c50", conns: 50, path: "/post", script: "wrk.method = \"POST\"\nwrk.body = string.rep(\"x\", 16384)\nwrk.headers[\"Content-Type\"] = \"application/octet-stream\"\n", targets: "two"},
		{name: "https-c50", conns: 50, path: "/", https: true, targets: "two"},
		{name: "refused-c50", conns: 50, path: "/", targets: "refused"},
		{name: "2tg-c50", conns: 50, path: "/", targets: "thousand2"},
		{name: "1000tg-c50", conns: 50, path: "/", targets: "thousand"},
		{name: "grpc-c50", conns: 50, targets: "grpc", grpc: true},
	}
}

func scenarioNames() []string {
	var n []string
	for _, s := range scenarios() {
		n = append(n, s.name)
	}
	return n
}

func scenarioByName(name string) (scenario, bool) {
	for _, s := range scenarios() {
		if s.name == name {
			return s, true
		}
	}
	return scenario{}, false
}
