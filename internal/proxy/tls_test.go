package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned returns a certificate for name.
func selfSigned(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// TestSNICertificatesPolicyAndPassthrough: the certificate follows SNI
// with the first as default, the policy's minimum version is enforced,
// and in passthrough the target gets the client certificate in
// X-Amzn-Mtls-Clientcert while a client's forged one is dropped.
func TestSNICertificatesPolicyAndPassthrough(t *testing.T) {
	var seen http.Header
	backend := named("ok", &seen)
	defer backend.Close()
	dir := t.TempDir()
	var files []string
	for _, n := range []string{"a.test", "b.test"} {
		c, k := filepath.Join(dir, n+".pem"), filepath.Join(dir, n+".key")
		writePEM(t, c, k, selfSigned(t, n))
		files = append(files, c, k)
	}
	_, addr := startServer(t, fmt.Sprintf(`
listeners:
  - name: web
    address: "127.0.0.1:0"
    protocol: https
    certificates: [{cert_file: %q, key_file: %q}, {cert_file: %q, key_file: %q}]
    tls_policy: {name: ELBSecurityPolicy-TLS13-1-2-Res-2021-06, min_version: "1.3"}
    mutual_authentication: {mode: passthrough}
    default_target_group: app
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, files[0], files[1], files[2], files[3], hostPort(backend.URL)))
	client := selfSigned(t, "client.test")
	get := func(sni string, maxV uint16, certs []tls.Certificate) (*http.Response, error) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: sni, InsecureSkipVerify: true, MaxVersion: maxV, Certificates: certs}}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
		req.Header.Set("X-Amzn-Mtls-Clientcert", "forged")
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	for sni, want := range map[string]string{"b.test": "b.test", "a.test": "a.test", "other.test": "a.test"} {
		resp, err := get(sni, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.TLS.PeerCertificates[0].Subject.CommonName; got != want {
			t.Errorf("SNI %s: served %s, want %s", sni, got, want)
		}
		if seen.Get("X-Amzn-Mtls-Clientcert") != "" {
			t.Errorf("a client without a certificate: target got X-Amzn-Mtls-Clientcert %q", seen.Get("X-Amzn-Mtls-Clientcert"))
		}
	}
	if _, err := get("a.test", tls.VersionTLS12, nil); err == nil {
		t.Error("a TLS 1.2 client was served by a min_version 1.3 listener")
	}
	if _, err := get("a.test", 0, []tls.Certificate{client}); err != nil {
		t.Fatal(err)
	}
	h := seen.Get("X-Amzn-Mtls-Clientcert")
	dec, err := url.PathUnescape(h)
	if err != nil || !strings.HasPrefix(dec, "-----BEGIN CERTIFICATE-----") || strings.Contains(h, " ") {
		t.Fatalf("X-Amzn-Mtls-Clientcert = %q", h)
	}
}
