package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestMetricsAddr: with METRICS_ADDR the Prometheus metrics are served on that address only;
// the public port has no /metrics.
func TestMetricsAddr(t *testing.T) {
	dir := t.TempDir()
	cfg, err := configFromEnv(func(k string) string {
		return map[string]string{"DATA_DIR": dir, "METRICS_ADDR": "127.0.0.1:0", "LOG_FORMAT": "json"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.bcryptCost = bcrypt.MinCost // the dummy hash at the real cost takes seconds under -race
	log, waitLog := newLogSignal(io.Discard, "metrics serving", "tenantdesk serving")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, cfg, log, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	metricsAddr := waitLog(t, "metrics serving")
	waitLog(t, "tenantdesk serving")
	public := "http://" + ln.Addr().String()
	if s, err := plainGet(public + "/healthz"); s != 200 {
		t.Fatalf("/healthz = %d, %v", s, err)
	}
	res, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `tenantdesk_http_requests_total{method="GET",route="/healthz",status="200"}`) ||
		!strings.Contains(string(body), "tenantdesk_tenant_databases_open 0") {
		t.Errorf("metrics: %d\n%.2000s", res.StatusCode, body)
	}
	if s, _ := plainGet(public + "/metrics"); s != http.StatusNotFound {
		t.Errorf("public /metrics: %d, want 404", s)
	}
	if s, _ := plainGet("http://" + metricsAddr + "/dash"); s != http.StatusNotFound {
		t.Errorf("the metrics address serves the app: /dash %d", s)
	}
}

// TestOperationsConfig: METRICS_ADDR is off by default; bad values are refused at start.
func TestOperationsConfig(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	cfg, err := configFromEnv(env(nil))
	if err != nil || cfg.MetricsAddr != "" || cfg.LogJSON || cfg.ShutdownDelay != 0 {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	cfg, err = configFromEnv(env(map[string]string{"METRICS_ADDR": "127.0.0.1:9090", "LOG_FORMAT": "json", "SHUTDOWN_DELAY": "5s"}))
	if err != nil || cfg.MetricsAddr != "127.0.0.1:9090" || !cfg.LogJSON || cfg.ShutdownDelay != 5*time.Second {
		t.Fatalf("set: %+v, %v", cfg, err)
	}
	for _, kv := range []map[string]string{
		{"METRICS_ADDR": "9090"}, {"LOG_FORMAT": "xml"}, {"SHUTDOWN_DELAY": "-1s"}, {"SHUTDOWN_DELAY": "2h"}, {"SHUTDOWN_DELAY": "soon"},
	} {
		if _, err := configFromEnv(env(kv)); err == nil {
			t.Errorf("%v accepted", kv)
		}
	}
	var b strings.Builder
	newLogger(&b, Config{LogJSON: true, LogLevel: slog.LevelInfo}).Info("x", "tenant", "acme")
	if !strings.Contains(b.String(), `"tenant":"acme"`) {
		t.Errorf("json logger wrote %q", b.String())
	}
}
