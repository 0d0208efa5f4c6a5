//go:build nokubernetes

package discovery

import (
	"errors"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

// ErrKubernetesOff is returned for type kubernetes by a binary built
// with -tags nokubernetes, which leaves client-go out (about 7 MB of
// binary and 3.5 MB of RSS).
var ErrKubernetesOff = errors.New("this fulcrum was built with -tags nokubernetes: the kubernetes discovery provider is left out")

func newKubernetes(config.Discovery) (Provider, error) { return nil, ErrKubernetesOff }
