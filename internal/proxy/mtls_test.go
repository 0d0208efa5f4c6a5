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
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// signedBy returns a client certificate for name signed by ca.
func signedBy(t *testing.T, ca tls.Certificate, name string, serial int64) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name, Organization: []string{"Fulcrum test"}},
		NotBefore: time.Now().Add(-time.Hour).Truncate(time.Second), NotAfter: time.Now().Add(time.Hour).Truncate(time.Second),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.Leaf, &key.PublicKey, ca.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// testCA returns a self-signed CA certificate.
func testCA(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Fulcrum test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// TestMutualAuthenticationVerify: in verify mode a client without a
// certificate, or with one not signed by ca_file, is refused before any
// request reaches the target; a client with a CA-signed certificate is
// served, and the target gets ALB's X-Amzn-Mtls-Clientcert-* headers
// describing it, never a client's forged ones.
func TestMutualAuthenticationVerify(t *testing.T) {
	var seen http.Header
	var hits atomic.Int32
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		seen = r.Header.Clone()
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	dir := t.TempDir()
	certFile, keyFile, caFile := filepath.Join(dir, "srv.pem"), filepath.Join(dir, "srv.key"), filepath.Join(dir, "ca.pem")
	writePEM(t, certFile, keyFile, selfSigned(t, "web.test"))
	ca := testCA(t)
	if err := os.WriteFile(caFile, pemBlock("CERTIFICATE", ca.Certificate[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	_, addr := startServer(t, fmt.Sprintf(`
listeners:
  - name: web
    address: "127.0.0.1:0"
    protocol: https
    certificates: [{cert_file: %q, key_file: %q}]
    mutual_authentication: {mode: verify, ca_file: %q}
    default_target_group: app
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, certFile, keyFile, caFile, hostPort(backend.URL)))
	get := func(certs []tls.Certificate) (*http.Response, error) {
		cfg := &tls.Config{ServerName: "web.test", InsecureSkipVerify: true}
		if len(certs) > 0 {
			// Send the certificate even when its issuer is not among the
			// server's acceptable CAs (crypto/tls would send none).
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
		}
		tr := &http.Transport{TLSClientConfig: cfg}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
		req.Header.Set("X-Amzn-Mtls-Clientcert-Subject", "CN=forged")
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	for _, tc := range []struct {
		name  string
		certs []tls.Certificate
	}{{"no certificate", nil}, {"a certificate not signed by the CA", []tls.Certificate{selfSigned(t, "stranger.test")}}} {
		if resp, err := get(tc.certs); err == nil {
			t.Errorf("%s: served with %d, want the handshake refused", tc.name, resp.StatusCode)
		}
	}
	// A TLS 1.2 handshake fails in the handshake itself (in TLS 1.3 the
	// client learns it at its first read).
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "web.test", InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
	if err == nil {
		conn.Close()
		t.Error("a TLS 1.2 client without a certificate completed the handshake")
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("refused clients reached the target %d times", n)
	}

	client := signedBy(t, ca, "client.test", 0xBEEF01)
	resp, err := get([]tls.Certificate{client})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("a CA-signed client got %d", resp.StatusCode)
	}
	leaf := client.Leaf
	want := map[string]string{
		"X-Amzn-Mtls-Clientcert-Serial-Number": "BEEF01",
		"X-Amzn-Mtls-Clientcert-Issuer":        "CN=Fulcrum test CA",
		"X-Amzn-Mtls-Clientcert-Subject":       "CN=client.test,O=Fulcrum test",
		"X-Amzn-Mtls-Clientcert-Validity": "NotBefore=" + leaf.NotBefore.UTC().Format(time.RFC3339) +
			";NotAfter=" + leaf.NotAfter.UTC().Format(time.RFC3339),
	}
	for k, v := range want {
		if got := seen.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	l := seen.Get("X-Amzn-Mtls-Clientcert-Leaf")
	dec, err := url.PathUnescape(l)
	if err != nil || strings.Contains(l, " ") || !strings.Contains(dec, string(pemBlock("CERTIFICATE", client.Certificate[0]))) {
		t.Errorf("X-Amzn-Mtls-Clientcert-Leaf = %q, want the URL-encoded PEM of the client's leaf", l)
	}
	if seen.Get("X-Amzn-Mtls-Clientcert") != "" {
		t.Errorf("verify mode sent passthrough's X-Amzn-Mtls-Clientcert %q", seen.Get("X-Amzn-Mtls-Clientcert"))
	}
}
