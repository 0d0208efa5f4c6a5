//go:build !linux

package proxy

import "net"

// peek cannot look at the socket on this platform; a closed connection is
// found when the request is written and retried as a pooled-connection
// failure. Unsolicited bytes already read into the connection's buffer are
// still caught by exchange.release.
func peek(net.Conn) peekState { return peekIdle }
