# Fulcrum's build. `make demo` runs Fulcrum in front of two sample backends;
# `make test` runs vet, the race-enabled unit tests and the end-to-end suite
# (on event loops, then again on the goroutine layer).
GO ?= go
# The version for `fulcrum version` when the toolchain cannot stamp the VCS
# revision itself (-buildvcs=false, a worktree, a tarball).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS := $(if $(VERSION),-X github.com/fulcrumlb/fulcrum/internal/cli.Version=$(VERSION))

.PHONY: build build-edge demo test bench compare clean

# A static binary, as the Dockerfile ships it (no libc mapped: 1.6 MB less
# resident).
build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o bin/fulcrum ./cmd/fulcrum

# The edge build: the same fulcrum without the Kubernetes discovery
# provider (-tags nokubernetes), so without client-go and apimachinery:
# 7 MB smaller, and about 4 MB less resident at 200 connections
# (docs/performance.md). A kubernetes provider in its configuration is a
# configuration error; `fulcrum version` lists the providers a binary has.
build-edge:
	CGO_ENABLED=0 $(GO) build -tags nokubernetes -ldflags "$(LDFLAGS)" -o bin/fulcrum-edge ./cmd/fulcrum

demo:
	bash scripts/demo.sh

test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 12m ./...
	# The edge build (make build-edge) compiles, vets, and refuses a
	# kubernetes provider.
	$(GO) vet -tags nokubernetes ./...
	$(GO) test -count=1 -tags nokubernetes -run Edge ./internal/config/ ./internal/cli/
	# Off Linux there are no event loops (netloop/other.go): the command
	# still builds, on the goroutine layer.
	GOOS=darwin $(GO) build -o /dev/null ./cmd/fulcrum
	# The end-to-end suite again with every listener on the goroutine
	# layer: both I/O layers pass it while both exist (issue 15).
	FULCRUM_IO=goroutine $(GO) test -count=1 -timeout 12m ./e2e/

# Go benchmarks of the hot path (docs/performance.md).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Fulcrum against HAProxy, nginx, Caddy and plain httputil, interleaved
# (installs them from Debian when missing; takes about 25 minutes).
compare:
	bash bench/compare.sh

clean:
	rm -rf bin
