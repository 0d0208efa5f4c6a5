package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
)

// File size limits: a path that names something larger (or endless, like
// /dev/zero) is refused after reading one byte past the limit, instead of
// being read into memory.
const (
	// MaxPEMFile bounds certificate, key and CA bundle files: 1 MiB.
	MaxPEMFile = 1 << 20
	// MaxConfigFile bounds the configuration file: 4 MiB.
	MaxConfigFile = 4 << 20
	// MaxTokenFile bounds admin.token_file: 64 KiB.
	MaxTokenFile = 64 << 10
)

// ErrFileTooLarge is wrapped by ReadLimited's error for a file over its
// limit.
var ErrFileTooLarge = errors.New("file too large")

// ReadLimited reads the file at path, at most limit bytes. A larger file
// is an error wrapping ErrFileTooLarge that names the path and the limit;
// other errors wrap the os error.
func ReadLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", path, ErrFileTooLarge, limit)
	}
	return b, nil
}

// LoadKeyPair is tls.LoadX509KeyPair with both files bounded by
// MaxPEMFile.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := ReadLimited(certFile, MaxPEMFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cert_file: %w", err)
	}
	key, err := ReadLimited(keyFile, MaxPEMFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key_file: %w", err)
	}
	return tls.X509KeyPair(cert, key)
}
