//go:build !nokubernetes

package config

// kubernetesBuilt says whether this binary carries the kubernetes
// discovery provider. `go build -tags nokubernetes` (make build-edge)
// leaves it and client-go out: about 7 MB of binary and 4 MB of peak
// RSS at 200 connections (docs/performance.md).
const kubernetesBuilt = true
