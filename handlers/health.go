package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// healthz answers 200 while the process serves.
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.SendString("ok")
}

// readyz answers 200 once the catalog answers a query and the server is not shutting down.
func (s *Server) readyz(c *fiber.Ctx) error {
	if !s.ready.Load() {
		return c.Status(fiber.StatusServiceUnavailable).SendString("shutting down")
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.catalog.Ping(ctx); err != nil {
		s.log.Warn("readyz: catalog unreachable", "err", err)
		return c.Status(fiber.StatusServiceUnavailable).SendString("catalog unreachable")
	}
	return c.SendString("ready")
}
