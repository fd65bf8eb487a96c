package handlers

import (
	"github.com/valyala/fasthttp"
)

// Answers written before the middleware chain runs — a body over BodyLimit (413), a request
// line or header over the read buffer (431), a method Fiber does not know (400) — never pass
// the helmet middleware in routes(): fasthttp or Fiber's router write them directly. The
// server's handler and error handler are wrapped so that every answer leaves with the same
// security headers; headers already set (by helmet, or a page's own Referrer-Policy) are kept.

// securityHeaders are the headers helmet sets on every answer in routes(), with the same
// values, plus Cache-Control for answers that set none.
var securityHeaders = [][2]string{
	{"Content-Security-Policy", contentSecurityPolicy},
	{"X-Frame-Options", "DENY"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "same-origin"},
	{"Cross-Origin-Embedder-Policy", "unsafe-none"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
	{"Origin-Agent-Cluster", "?1"},
	{"X-DNS-Prefetch-Control", "off"},
	{"X-Download-Options", "noopen"},
	{"X-Permitted-Cross-Domain-Policies", "none"},
	{"X-XSS-Protection", "0"},
	{"Cache-Control", "no-store"},
}

// contentSecurityPolicy is the policy of every answer: scripts and styles from the site's own
// files only, no framing, no plugins.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; " +
	"base-uri 'none'; object-src 'none'"

// hstsHeader is sent over HTTPS (SecureCookies says the site is served so).
const hstsHeader = "max-age=63072000; includeSubDomains"

// guardHeaders wraps the fasthttp server's handler and error handler so that every answer
// carries securityHeaders.
func (s *Server) guardHeaders() {
	srv := s.app.Server()
	next, onError := srv.Handler, srv.ErrorHandler
	srv.Handler = func(ctx *fasthttp.RequestCtx) {
		next(ctx)
		s.fillSecurityHeaders(ctx)
	}
	srv.ErrorHandler = func(ctx *fasthttp.RequestCtx, err error) {
		onError(ctx, err)
		s.fillSecurityHeaders(ctx)
	}
}

// fillSecurityHeaders sets each security header the answer lacks.
func (s *Server) fillSecurityHeaders(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	for _, kv := range securityHeaders {
		if len(h.Peek(kv[0])) == 0 {
			h.Set(kv[0], kv[1])
		}
	}
	if (s.cfg.SecureCookies || ctx.IsTLS()) && len(h.Peek("Strict-Transport-Security")) == 0 {
		h.Set("Strict-Transport-Security", hstsHeader)
	}
}
