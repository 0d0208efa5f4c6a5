package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// Mutual authentication modes (ALB's mutual_authentication mode).
const (
	mtlsOff         = "off"
	mtlsPassthrough = "passthrough"
	mtlsVerify      = "verify"
)

// listenerTLS builds an https listener's server TLS configuration: every
// certificate, the first being the default when the client's SNI matches
// none (crypto/tls picks by SNI among Certificates); the TLS policy's
// minimum version and cipher suites; and client certificates requested
// (passthrough) or required and verified against ca_file (verify).
func listenerTLS(lc config.Listener) (*tls.Config, error) {
	var certs []tls.Certificate
	for _, c := range lc.ListenerCertificates() {
		cert, err := config.LoadKeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("listener %s: certificate %s: %w", lc.Name, c.CertFile, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("listener %s: %w", lc.Name, errors.New("no certificate"))
	}
	minV, ciphers, err := lc.TLSPolicy.Resolve()
	if err != nil {
		return nil, fmt.Errorf("listener %s: tls_policy: %w", lc.Name, err)
	}
	cfg := &tls.Config{Certificates: certs, MinVersion: minV, CipherSuites: ciphers, NextProtos: []string{"h2", "http/1.1"}}
	switch mtlsMode(lc) {
	case mtlsPassthrough:
		cfg.ClientAuth = tls.RequestClientCert
	case mtlsVerify:
		b, err := config.ReadLimited(lc.MutualAuthentication.CAFile, config.MaxPEMFile)
		if err != nil {
			return nil, fmt.Errorf("listener %s: mutual_authentication.ca_file: %w", lc.Name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("listener %s: mutual_authentication.ca_file %s: no PEM certificate", lc.Name, lc.MutualAuthentication.CAFile)
		}
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, pool
	}
	return cfg, nil
}

func mtlsMode(lc config.Listener) string {
	if lc.Protocol != "https" || lc.MutualAuthentication == nil || lc.MutualAuthentication.Mode == "" {
		return mtlsOff
	}
	return lc.MutualAuthentication.Mode
}

// loadCert (re)reads an https listener's certificates, policy and client
// CA bundle; a reload picks up renewed certificates without closing the
// socket. On error the previous configuration stays.
func (l *listener) loadCert() error {
	cfg, err := listenerTLS(l.cfg)
	if err != nil {
		return err
	}
	l.tlsCfg.Store(cfg)
	return nil
}

// mtlsHeaderPrefix starts every header that carries the client
// certificate; a client's own are always removed.
const mtlsHeaderPrefix = "X-Amzn-Mtls-"

// clientCertHeaders removes any X-Amzn-Mtls-* header the client sent
// and, in passthrough and verify modes, sends the client's leaf
// certificate to the target as ALB does (AWS, "Mutual authentication with
// TLS in Application Load Balancer", HTTP headers): in passthrough
// X-Amzn-Mtls-Clientcert holds the URL-encoded PEM; in verify
// X-Amzn-Mtls-Clientcert-Serial-Number, -Issuer, -Subject, -Validity and
// -Leaf describe it.
func clientCertHeaders(r *httpmsg.Request, mode string) {
	r.Header.DelFunc(func(f httpmsg.Field) bool {
		return len(f.Name) >= len(mtlsHeaderPrefix) && strings.EqualFold(f.Name[:len(mtlsHeaderPrefix)], mtlsHeaderPrefix)
	})
	if mode == mtlsOff || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return
	}
	leaf := r.TLS.PeerCertificates[0]
	p := pemEscape(leaf)
	if mode == mtlsPassthrough {
		r.Header.Add("X-Amzn-Mtls-Clientcert", p)
		return
	}
	r.Header.Add("X-Amzn-Mtls-Clientcert-Serial-Number", strings.ToUpper(leaf.SerialNumber.Text(16)))
	r.Header.Add("X-Amzn-Mtls-Clientcert-Issuer", leaf.Issuer.String())
	r.Header.Add("X-Amzn-Mtls-Clientcert-Subject", leaf.Subject.String())
	r.Header.Add("X-Amzn-Mtls-Clientcert-Validity", "NotBefore="+leaf.NotBefore.UTC().Format(time.RFC3339)+
		";NotAfter="+leaf.NotAfter.UTC().Format(time.RFC3339))
	r.Header.Add("X-Amzn-Mtls-Clientcert-Leaf", p)
}

// pemEscape is the certificate's PEM, URL-encoded with '+', '=' and '/'
// left as they are, as ALB encodes it.
func pemEscape(c *x509.Certificate) string {
	s := url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
	return strings.NewReplacer("%2B", "+", "%3D", "=", "%2F", "/", "+", "%20").Replace(s)
}
