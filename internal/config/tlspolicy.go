package config

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// Cipher suite groups of ALB's security policies that Go implements
// (AWS, "Security policies for your Application Load Balancer"). TLS 1.3
// suites are always on and not configurable, in Go as in those policies.
var (
	ciphersGCM = []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	}
	ciphersFS = append(append([]uint16{}, ciphersGCM...),
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	)
	ciphersAll = append(append([]uint16{}, ciphersFS...),
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_RSA_WITH_AES_128_CBC_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	)
)

// securityPolicies maps ALB security policy names to their minimum TLS
// version and TLS 1.0-1.2 cipher suites.
var securityPolicies = map[string]struct {
	min     uint16
	ciphers []uint16
}{
	"ELBSecurityPolicy-TLS13-1-2-2021-06":      {tls.VersionTLS12, ciphersFS},
	"ELBSecurityPolicy-TLS13-1-2-Res-2021-06":  {tls.VersionTLS12, ciphersGCM},
	"ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06": {tls.VersionTLS12, ciphersAll},
	"ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06": {tls.VersionTLS12, ciphersAll},
	"ELBSecurityPolicy-TLS13-1-1-2021-06":      {tls.VersionTLS11, ciphersAll},
	"ELBSecurityPolicy-TLS13-1-0-2021-06":      {tls.VersionTLS10, ciphersAll},
	"ELBSecurityPolicy-TLS13-1-3-2021-06":      {tls.VersionTLS13, nil},
	"ELBSecurityPolicy-2016-08":                {tls.VersionTLS10, ciphersAll},
	"ELBSecurityPolicy-TLS-1-1-2017-01":        {tls.VersionTLS11, ciphersAll},
	"ELBSecurityPolicy-TLS-1-2-2017-01":        {tls.VersionTLS12, ciphersAll},
	"ELBSecurityPolicy-TLS-1-2-Ext-2018-06":    {tls.VersionTLS12, ciphersAll},
	"ELBSecurityPolicy-FS-2018-06":             {tls.VersionTLS10, ciphersFS},
	"ELBSecurityPolicy-FS-1-2-2019-08":         {tls.VersionTLS12, ciphersFS},
	"ELBSecurityPolicy-FS-1-2-Res-2019-08":     {tls.VersionTLS12, ciphersGCM},
	"ELBSecurityPolicy-FS-1-2-Res-2020-10":     {tls.VersionTLS12, ciphersGCM},
}

var tlsVersions = map[string]uint16{"1.0": tls.VersionTLS10, "1.1": tls.VersionTLS11, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// Resolve returns the policy's minimum version and cipher suites: those
// of the named ALB policy, overridden by min_version and ciphers. Nil
// ciphers means Go's default list. A nil policy is TLS 1.2 and up.
// Errors name the unknown policy, version or cipher.
func (p *TLSPolicy) Resolve() (uint16, []uint16, error) {
	minV, ciphers := uint16(tls.VersionTLS12), []uint16(nil)
	if p == nil {
		return minV, nil, nil
	}
	if p.Name != "" {
		sp, ok := securityPolicies[p.Name]
		if !ok {
			return 0, nil, fmt.Errorf("name: %q is not a known ALB security policy", p.Name)
		}
		minV, ciphers = sp.min, sp.ciphers
	}
	if p.MinVersion != "" {
		v, ok := tlsVersions[p.MinVersion]
		if !ok {
			return 0, nil, fmt.Errorf("min_version: %q is not one of 1.0, 1.1, 1.2, 1.3", p.MinVersion)
		}
		minV = v
	}
	if len(p.Ciphers) > 0 {
		ciphers = nil
		for _, name := range p.Ciphers {
			id, ok := cipherID(name)
			if !ok {
				return 0, nil, fmt.Errorf("ciphers: %q is not a TLS 1.0-1.2 cipher suite Fulcrum supports", name)
			}
			ciphers = append(ciphers, id)
		}
	}
	return minV, ciphers, nil
}

// cipherID finds a suite by IANA name or by the OpenSSL name ALB's
// policies use (ECDHE-RSA-AES128-GCM-SHA256).
func cipherID(name string) (uint16, bool) {
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if cs.Name == name || openSSLName(cs.Name) == name {
			return cs.ID, true
		}
	}
	return 0, false
}

// openSSLName derives the OpenSSL spelling of an IANA suite name for the
// suites ALB lists: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 becomes
// ECDHE-RSA-AES128-GCM-SHA256, TLS_RSA_WITH_AES_128_CBC_SHA becomes
// AES128-SHA.
func openSSLName(iana string) string {
	s := strings.TrimPrefix(iana, "TLS_")
	kx, enc, ok := strings.Cut(s, "_WITH_")
	if !ok {
		return ""
	}
	enc = strings.NewReplacer("AES_128", "AES128", "AES_256", "AES256", "_CBC", "", "CHACHA20_POLY1305", "CHACHA20-POLY1305", "_", "-").Replace(enc)
	if kx == "RSA" {
		return enc
	}
	return strings.ReplaceAll(kx, "_", "-") + "-" + enc
}
