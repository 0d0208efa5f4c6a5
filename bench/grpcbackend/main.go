// Command grpcbackend is the gRPC target of bench/compare's grpc-c50
// scenario: a greeter whose one unary method,
// /fulcrum.bench.Greeter/SayHello, answers a google.protobuf.StringValue
// with "hello " and the name, plus the standard health service
// (https://github.com/grpc/grpc/blob/master/doc/health-checking.md). It
// serves h2c (gRPC without TLS) until SIGTERM or SIGINT.
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Method is the greeter's full method name, what bench/grpcload calls.
const Method = "/fulcrum.bench.Greeter/SayHello"

func sayHello(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	in := new(wrapperspb.StringValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	return wrapperspb.String("hello " + in.GetValue()), nil
}

// greeter describes the service by hand, so the benchmark needs no
// generated code: one unary method over well-known message types.
var greeter = grpc.ServiceDesc{
	ServiceName: "fulcrum.bench.Greeter",
	HandlerType: (*any)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "SayHello", Handler: sayHello}},
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9211", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	s := grpc.NewServer()
	s.RegisterService(&greeter, struct{}{})
	healthpb.RegisterHealthServer(s, health.NewServer())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); s.GracefulStop() }()
	if err := s.Serve(ln); err != nil {
		log.Fatal(err)
	}
}
