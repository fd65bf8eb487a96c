package main

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tenantdesk/tenantdesk/sql/tenantdb"
)

// TestWebhookConfig: WEBHOOK_ALLOW_PRIVATE is off by default, read as a boolean, and anything
// else stops the start.
func TestWebhookConfig(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	if cfg, err := configFromEnv(env(nil)); err != nil || cfg.WebhookAllowPrivate {
		t.Fatalf("default: %v, %v", cfg.WebhookAllowPrivate, err)
	}
	for v, want := range map[string]bool{"true": true, "1": true, "false": false, "0": false} {
		if cfg, err := configFromEnv(env(map[string]string{"WEBHOOK_ALLOW_PRIVATE": v})); err != nil || cfg.WebhookAllowPrivate != want {
			t.Errorf("%q: %v, %v", v, cfg.WebhookAllowPrivate, err)
		}
	}
	for _, v := range []string{"yes", "on", "private"} {
		if _, err := configFromEnv(env(map[string]string{"WEBHOOK_ALLOW_PRIVATE": v})); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}

// TestSecretKeyIsItsOwn: the key sealing tenants' secrets is derived from the session secret
// (the same again after a restart) and is not the credential key.
func TestSecretKeyIsItsOwn(t *testing.T) {
	master := []byte("0123456789abcdef0123456789abcdef")
	k1, err1 := tenantdb.SecretKey(master)
	k2, err2 := tenantdb.SecretKey(bytes.Clone(master))
	cred, err3 := tenantdb.CredentialKey(master)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if len(k1) != 32 || !bytes.Equal(k1, k2) || bytes.Equal(k1, cred) {
		t.Fatalf("secret key %x (again %x), credential key %x", k1, k2, cred)
	}
	if _, err := tenantdb.SecretKey(master[:15]); err == nil {
		t.Error("15 bytes of key material accepted")
	}
}
