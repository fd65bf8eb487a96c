package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOperatorCommandsUseServerConfig runs the operator commands through main's glue on a
// fresh DATA_DIR: they open (and migrate) the catalog where the server would, and a full
// restore refuses to run over it.
func TestOperatorCommandsUseServerConfig(t *testing.T) {
	dir := t.TempDir()
	cfg, err := configFromEnv(func(k string) string { return map[string]string{"DATA_DIR": dir}[k] })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	for _, args := range [][]string{{"migrate"}, {"tenants", "list", "--json"}, {"tenants", "check"}} {
		if err := runFleet(ctx, cfg, log, args); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "catalog.db")); err != nil {
		t.Fatalf("no catalog in DATA_DIR: %v", err)
	}
	if err := runFleet(ctx, cfg, log, []string{"backup", "--out", filepath.Join(dir, "..", "bk")}); err != nil {
		t.Fatalf("backup: %v", err)
	}
	err = runFleet(ctx, cfg, log, []string{"restore", "--from", filepath.Join(dir, "..", "bk")})
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("full restore over a live catalog: %v", err)
	}
	if err := runFleet(ctx, cfg, log, []string{"tenants", "frob"}); err == nil {
		t.Fatal("an unknown command succeeded")
	}
}
