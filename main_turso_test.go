package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestConfigTursoNames: with TENANT_BACKEND=turso the database host name label
// <APP_NAME>-<username>-<APP_ORGANIZATION> must fit in 63 characters, so the username limit
// follows from the two names; the server refuses to start when fewer than 3 characters fit,
// when APP_NAME ends in '-', or when the organization is not a slug. Other backends keep 30.
func TestConfigTursoNames(t *testing.T) {
	env := func(kv map[string]string) func(string) string {
		base := map[string]string{"TENANT_BACKEND": "turso", "TURSO_API_TOKEN": "t", "APP_ORGANIZATION": "acme-corp"}
		for k, v := range kv {
			base[k] = v
		}
		return func(k string) string { return base[k] }
	}
	for _, c := range []struct {
		kv      map[string]string
		want    int
		wantErr string
	}{
		{kv: nil, want: 30},
		{kv: map[string]string{"APP_NAME": "helpdesk-for-the-whole-company-x"}, want: 20},
		{kv: map[string]string{"APP_NAME": "a", "APP_ORGANIZATION": strings.Repeat("o", 40)}, want: 20},
		{kv: map[string]string{"APP_NAME": strings.Repeat("n", 32), "APP_ORGANIZATION": strings.Repeat("o", 26)}, want: 3},
		{kv: map[string]string{"APP_NAME": strings.Repeat("n", 32), "APP_ORGANIZATION": strings.Repeat("o", 27)},
			wantErr: "leave room for 2 username characters"},
		{kv: map[string]string{"APP_ORGANIZATION": strings.Repeat("o", 61)}, wantErr: "leave room for 0"},
		{kv: map[string]string{"APP_NAME": "desk-"}, wantErr: "must not end in '-'"},
		{kv: map[string]string{"APP_ORGANIZATION": "Acme_Corp"}, wantErr: "organization slug"},
		{kv: map[string]string{"APP_ORGANIZATION": "acme-"}, wantErr: "organization slug"},
		{kv: map[string]string{"TENANT_BACKEND": "local", "APP_NAME": "desk-", "APP_ORGANIZATION": ""}, want: 30},
	} {
		cfg, err := configFromEnv(env(c.kv))
		switch {
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%v: err %v, want one with %q", c.kv, err, c.wantErr)
		case c.wantErr == "" && err != nil:
			t.Errorf("%v: %v", c.kv, err)
		case c.wantErr == "" && cfg.maxUsernameLength() != c.want:
			t.Errorf("%v: username limit %d, want %d", c.kv, cfg.maxUsernameLength(), c.want)
		}
	}
}

// TestServeRefusesMissingTursoGroup: serve asks the Platform API for APP_GROUP before it
// listens, and does not start when the group is missing and APP_PRIMARY_LOCATION is unset.
// The API here answers that one documented request (404 {"error": …}, as for an unknown
// group); the full stand-in is in sql/tenantdb.
func TestServeRefusesMissingTursoGroup(t *testing.T) {
	var asked atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/organizations/acme-corp/groups/tenants" ||
			r.Header.Get("Authorization") != "Bearer t" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"unexpected request"}`)
			return
		}
		asked.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":"group not found"}`)
	}))
	defer api.Close()
	cfg, err := configFromEnv(func(k string) string {
		return map[string]string{"DATA_DIR": t.TempDir(), "PORT": "0", "TENANT_BACKEND": "turso",
			"TURSO_API_URL": api.URL, "TURSO_API_TOKEN": "t", "APP_ORGANIZATION": "acme-corp", "APP_GROUP": "tenants",
			"SESSION_SECRET": "a session secret for the test"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	// A server that starts anyway serves until the deadline and returns nil.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err == nil || !strings.Contains(err.Error(), `group "tenants" does not exist`) {
		t.Fatalf("serve = %v, want a refusal naming the missing group", err)
	}
	if asked.Load() != 1 {
		t.Errorf("group lookups: %d, want 1", asked.Load())
	}
}
