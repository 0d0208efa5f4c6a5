package proxy

import (
	"crypto/x509"
	"encoding/pem"
)

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func marshalKey(k any) ([]byte, error) { return x509.MarshalPKCS8PrivateKey(k) }
