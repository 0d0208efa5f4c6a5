//go:build !linux

package proxy

import "net"

// alive cannot peek on this platform; a closed connection is found when
// the request is written and retried as a pooled-connection failure.
func alive(net.Conn) bool { return true }
