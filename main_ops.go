package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/tenantdesk/tenantdesk/handlers"
)

// readOperations reads the operations settings: METRICS_ADDR, LOG_FORMAT and SHUTDOWN_DELAY.
func (c *Config) readOperations(getenv func(string) string) error {
	c.MetricsAddr = getenv("METRICS_ADDR")
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("METRICS_ADDR %q must be host:port, e.g. 127.0.0.1:9090: %w", c.MetricsAddr, err)
		}
	}
	switch f := or(getenv("LOG_FORMAT"), "text"); f {
	case "text":
	case "json":
		c.LogJSON = true
	default:
		return fmt.Errorf("LOG_FORMAT %q: want text or json", f)
	}
	if v := getenv("SHUTDOWN_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Minute {
			return fmt.Errorf("SHUTDOWN_DELAY must be a duration from 0s to 1m, e.g. 5s; got %q", v)
		}
		c.ShutdownDelay = d
	}
	return nil
}

// newLogger is the process's structured logger: logfmt-style text, or JSON lines with
// LOG_FORMAT=json. Request lines carry request_id and tenant (handlers/observe.go).
func newLogger(w io.Writer, cfg Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// startMetrics serves GET /metrics (Prometheus) on METRICS_ADDR, a listener of its own, so that
// the public port never exposes it; off when METRICS_ADDR is empty. stop shuts it down.
func startMetrics(cfg Config, srv *handlers.Server, log *slog.Logger) (stop func(), err error) {
	if cfg.MetricsAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", srv.MetricsHandler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("metrics serving", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	}, nil
}
