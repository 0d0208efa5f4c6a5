package config

import "net"

// DialAddress turns a listen address (host:port, as in listeners[].address
// and admin.address) into the host:port a local client dials to reach it:
// an empty or unspecified host (0.0.0.0, ::) becomes 127.0.0.1. It returns
// "" when the address does not parse or its port is 0 (the kernel picks
// one at bind time, so only the running server knows it).
func DialAddress(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "0" || port == "" {
		return ""
	}
	if host == "" || net.ParseIP(host).IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
