#!/usr/bin/env bash
# Runs Fulcrum in front of two sample backends (examples/backend) with
# examples/fulcrum.yaml, in the foreground. Ctrl-C stops all three.
# Try it from another terminal:  curl -i http://127.0.0.1:8080/
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
go build -o bin/fulcrum ./cmd/fulcrum
go build -o bin/backend ./examples/backend
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
bin/backend -listen 127.0.0.1:9001 -name one & pids+=($!)
bin/backend -listen 127.0.0.1:9002 -name two & pids+=($!)
echo "fulcrum: listening on http://127.0.0.1:8080 (access log below; Ctrl-C to stop)" >&2
bin/fulcrum serve -c examples/fulcrum.yaml
