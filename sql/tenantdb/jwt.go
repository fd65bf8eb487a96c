package tenantdb

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// KeyPair makes a namespace's signing key: sqld checks the replica's tokens against the public
// half (the namespace's jwt_key); the private half stays with the app, sealed in the catalog.
// secret is the private key's seed, base64url; public is the raw public key, base64url, as the
// admin API's jwt_key wants it.
func KeyPair() (secret, public string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	return base64.RawURLEncoding.EncodeToString(priv.Seed()), base64.RawURLEncoding.EncodeToString(pub), nil
}

// MintToken signs a full-access (read-write) EdDSA JWT for namespace with the key whose seed
// KeyPair returned. ttl 0 means no expiry.
func MintToken(secret, namespace string, ttl time.Duration) (string, error) {
	seed, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(seed) != ed25519.SeedSize {
		return "", errors.New("tenantdb: signing key is not an Ed25519 seed")
	}
	now := time.Now()
	claims := map[string]any{"a": "rw", "id": namespace, "iat": now.Unix()}
	if ttl > 0 {
		claims["exp"] = now.Add(ttl).Unix()
	}
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","typ":"JWT"}`))
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := header + "." + base64.RawURLEncoding.EncodeToString(body)
	sig := ed25519.Sign(ed25519.NewKeyFromSeed(seed), []byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
