package discovery

import (
	"errors"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

// ErrKubernetesUnsupported is returned for type kubernetes: this build
// has no Kubernetes provider yet (docs/fleet.md).
var ErrKubernetesUnsupported = errors.New("the kubernetes discovery provider is not in this build yet")

func newKubernetes(config.Discovery) (Provider, error) { return nil, ErrKubernetesUnsupported }
