package tenantdb

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Sealer encrypts the credentials of tenant databases (database tokens, signing keys) before
// they are stored in the catalog, with AES-256-GCM. The database name is bound in as
// additional data, so a sealed value copied to another organization's row does not open.
type Sealer struct {
	aead cipher.AEAD
}

// sealPrefix versions the format: "v1:" + base64url(nonce ‖ ciphertext ‖ tag).
const sealPrefix = "v1:"

// CredentialKey derives the 32-byte key that seals credentials for other servers (the
// catalog's database tokens, an organization's mail server passwords) from a master secret
// (the session key), with HKDF-SHA256 and a label of its own, so the cookie key and this key
// never coincide. Each sealed value is bound to its own name, so one never opens as another.
func CredentialKey(master []byte) ([]byte, error) {
	if len(master) < 16 {
		return nil, errors.New("tenantdb: credential key material must be at least 16 bytes")
	}
	return hkdf.Key(sha256.New, master, nil, "tenantdesk tenant database credentials v1", 32)
}

// SecretKey derives the 32-byte key that seals the secrets tenants keep in their own
// databases (webhook signing secrets) from a master secret, with a label of its own: a value
// sealed for a tenant's database never opens with the credential key, nor the reverse.
func SecretKey(master []byte) ([]byte, error) {
	if len(master) < 16 {
		return nil, errors.New("tenantdb: secret key material must be at least 16 bytes")
	}
	return hkdf.Key(sha256.New, master, nil, "tenantdesk tenant secrets v1", 32)
}

// NewSealer returns a Sealer with a 32-byte key (see CredentialKey).
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("tenantdb: credential key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts secret for the database called name. An empty secret stays empty.
func (s *Sealer) Seal(name, secret string) (string, error) {
	if secret == "" {
		return "", nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := s.aead.Seal(nonce, nonce, []byte(secret), []byte(name))
	return sealPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts what Seal returned for the same name. A value sealed with another key, for
// another name, or altered, is an error.
func (s *Sealer) Open(name, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	raw, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return "", errors.New("tenantdb: sealed credential has an unknown format")
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) < s.aead.NonceSize()+s.aead.Overhead() {
		return "", errors.New("tenantdb: sealed credential is damaged")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(name))
	if err != nil {
		return "", errors.New("tenantdb: sealed credential does not open with this key " +
			"(was SESSION_SECRET changed?) or belongs to another database")
	}
	return string(plain), nil
}
