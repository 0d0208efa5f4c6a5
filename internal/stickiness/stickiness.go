// Package stickiness encodes and decodes ALB-style stickiness cookies.
// ALB names them AWSALB (duration-based, lb_cookie), AWSALBAPP-0
// (application-based, app_cookie) and AWSALBTG (target group stickiness
// of a weighted forward action) (AWS, "Sticky sessions for your
// Application Load Balancer"). Their values hold the target group and
// target sealed with AES-256-GCM under a key from the configuration, so no
// address is readable by the client and every Fulcrum instance that shares
// the key accepts the others' cookies.
package stickiness

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Cookie names, as ALB's.
const (
	LBCookie    = "AWSALB"
	AppCookie   = "AWSALBAPP-0"
	GroupCookie = "AWSALBTG"
)

// ErrInvalid is returned by Open for a value that was not sealed by a
// Codec with the same key, is malformed, or has expired.
var ErrInvalid = errors.New("stickiness: invalid or expired cookie")

// Codec seals and opens cookie values. It is safe for concurrent use.
type Codec struct {
	aead cipher.AEAD
}

// New returns a Codec whose AES-256 key is SHA-256 of secret.
func New(secret []byte) (*Codec, error) {
	k := sha256.Sum256(secret)
	b, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, fmt.Errorf("stickiness: %w", err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("stickiness: %w", err)
	}
	return &Codec{aead: a}, nil
}

// Load returns a Codec keyed by the file at path (surrounding white space
// trimmed) or, when path is empty, by a random key of this process.
func Load(path string) (*Codec, error) {
	if path == "" {
		var k [32]byte
		rand.Read(k[:])
		return New(k[:])
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("stickiness key: %w", err)
	}
	return New([]byte(strings.TrimSpace(string(b))))
}

// Seal returns the cookie value naming group and address (address may be
// empty for a group cookie), valid until expires. The cookie name is
// bound into the seal, so a value cannot be replayed under another name.
func (c *Codec) Seal(name, group, address string, expires time.Time) string {
	plain := make([]byte, 8, 8+len(group)+1+len(address))
	binary.BigEndian.PutUint64(plain, uint64(expires.Unix()))
	plain = append(plain, group...)
	plain = append(plain, 0)
	plain = append(plain, address...)
	nonce := make([]byte, c.aead.NonceSize(), c.aead.NonceSize()+len(plain)+c.aead.Overhead())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(c.aead.Seal(nonce, nonce, plain, []byte(name)))
}

// Open returns the group and address of a value sealed by Seal under the
// same cookie name and key, or ErrInvalid, also once it expired at now.
func (c *Codec) Open(name, value string, now time.Time) (group, address string, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	ns := c.aead.NonceSize()
	if err != nil || len(raw) < ns+c.aead.Overhead()+9 {
		return "", "", ErrInvalid
	}
	plain, err := c.aead.Open(nil, raw[:ns], raw[ns:], []byte(name))
	if err != nil {
		return "", "", ErrInvalid
	}
	if now.Unix() > int64(binary.BigEndian.Uint64(plain[:8])) {
		return "", "", ErrInvalid
	}
	group, address, ok := strings.Cut(string(plain[8:]), "\x00")
	if !ok {
		return "", "", ErrInvalid
	}
	return group, address, nil
}
