#!/usr/bin/env bash
# Benchmarks Fulcrum against HAProxy, nginx, Caddy, a plain
# httputil.ReverseProxy and a baseline build of Fulcrum (fulcrum-base) in
# one interleaved run (issues 7 and 14, docs/performance.md), and the edge
# build (fulcrum-edge: make build-edge, without the Kubernetes provider).
#
#   bash bench/compare.sh                        # full run: 10 scenarios, 3 reps, 10 s each
#   REPS=3 DURATION=5s SCENARIOS=get-c50,get-c200 bash bench/compare.sh
#   REPS=1 DURATION=5s SCENARIOS=grpc-c50 bash bench/compare.sh   # unary gRPC (bench/grpcload, bench/grpcbackend)
#   BASELINE_REF=none bash bench/compare.sh      # without fulcrum-base
#
# fulcrum-base is cmd/fulcrum built from BASELINE_REF (default: main just
# before Fulcrum's own HTTP/1.1 engine, issue 14), in a temporary git
# worktree, into bin/fulcrum-base; it runs with fulcrum's config, so the
# CPU per request of the two builds is compared in the same run.
#
# Installs haproxy, nginx, caddy, wrk and gnuplot from Debian when missing
# (needs root), builds bin/fulcrum, bin/fulcrum-edge and bin/goproxy, then runs
# bench/compare (Go) which writes bench/results/<date>/{summary.md,
# results.json,chart.png}. Extra arguments go to bench/compare.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v gnuplot >/dev/null 2>&1 || need+=(gnuplot-nox)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Debian starts packaged daemons on install where it can; the benchmark
# runs its own instances on its own ports, so nothing needs stopping.

mkdir -p bin
# Fulcrum as the Dockerfile ships it: static (CGO_ENABLED=0), with its
# symbols kept for the profiles.
CGO_ENABLED=0 go build -trimpath -o bin/fulcrum ./cmd/fulcrum
# The edge build (make build-edge), systems fulcrum-edge and fulcrum-edge-1t.
CGO_ENABLED=0 go build -trimpath -tags nokubernetes -o bin/fulcrum-edge ./cmd/fulcrum
go build -o bin/goproxy ./bench/goproxy
go build -o bin/bench-compare ./bench/compare
go build -o bin/grpcbackend ./bench/grpcbackend
go build -o bin/grpcload ./bench/grpcload

# The baseline: build cmd/fulcrum at BASELINE_REF once (bin/fulcrum-base.ref
# remembers which commit bin/fulcrum-base is).
base_ref="${BASELINE_REF:-6b2d1ff9ffa55495608dff7079bfb4302eb6e48d}"
baseline=()
if [ "$base_ref" != none ]; then
  commit="$(git rev-parse --verify "$base_ref^{commit}")"
  if [ ! -x bin/fulcrum-base ] || [ "$(cat bin/fulcrum-base.ref 2>/dev/null)" != "$commit static" ]; then
    wt="$(mktemp -d)/fulcrum-base"
    git worktree add --detach "$wt" "$commit" >/dev/null
    (cd "$wt" && CGO_ENABLED=0 go build -trimpath -o "$OLDPWD/bin/fulcrum-base" ./cmd/fulcrum)
    git worktree remove --force "$wt"
    echo "$commit static" > bin/fulcrum-base.ref
  fi
  baseline=(-baseline bin/fulcrum-base)
fi

out="${OUT:-bench/results/$(date -u +%Y%m%dT%H%M%SZ)}"
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec bin/bench-compare \
  -out "$out" \
  -reps "${REPS:-3}" \
  -duration "${DURATION:-10s}" \
  -warmup "${WARMUP:-2s}" \
  ${SCENARIOS:+-scenarios "$SCENARIOS"} \
  ${SYSTEMS:+-systems "$SYSTEMS"} \
  "${baseline[@]}" \
  "$@"
