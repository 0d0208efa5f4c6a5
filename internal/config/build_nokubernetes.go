//go:build nokubernetes

package config

// kubernetesBuilt is false in a binary built with -tags nokubernetes
// (make build-edge): a kubernetes discovery provider is a configuration
// error there.
const kubernetesBuilt = false
