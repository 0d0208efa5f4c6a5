# Fulcrum's build. `make demo` runs Fulcrum in front of two sample backends;
# `make test` runs vet, the race-enabled unit tests and the end-to-end suite.
GO ?= go

.PHONY: build demo test bench clean

build:
	$(GO) build -o bin/fulcrum ./cmd/fulcrum

demo:
	bash scripts/demo.sh

test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 12m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
