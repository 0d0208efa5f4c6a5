package target

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

// ClientTLS returns the TLS configuration for connections to an https
// target group's targets (server name, verification, CA file, HTTP/1.1
// ALPN), or nil for an http or tcp group. Errors name the tls.ca_file.
func ClientTLS(tc config.TargetGroup) (*tls.Config, error) {
	if tc.Protocol != "https" {
		return nil, nil
	}
	c := &tls.Config{ServerName: tc.TLS.ServerName, InsecureSkipVerify: tc.TLS.InsecureSkipVerify, NextProtos: []string{"http/1.1"}}
	if tc.TLS.CAFile != "" {
		pem, err := config.ReadLimited(tc.TLS.CAFile, config.MaxPEMFile)
		if err != nil {
			return nil, fmt.Errorf("read tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s holds no PEM certificate", tc.TLS.CAFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}
