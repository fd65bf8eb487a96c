package main

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

// staticFragment is the reference answer: a 1.4 KB HTML fragment, the size of a few chat
// messages.
var staticFragment = strings.Repeat(`<li class="msg" data-sender="agent"><p class="msg-body">A static reference message.</p></li>`+"\n", 16)[:1400]

// serveStatic is the reference server: plain Fiber, one handler, nothing else. It runs as its
// own process (tdbench static), like the real server, so that both are measured alike.
func serveStatic(addr string) error {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/fragment", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.SendString(staticFragment)
	})
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusOK) })
	return app.Listen(addr)
}
