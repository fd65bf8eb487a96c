package handlers

import (
	"github.com/valyala/fasthttp"
)

// Some answers are written before any middleware runs — a body over BodyLimit (413), a request
// line or header over the read buffer (431), a method Fiber does not know (400): fasthttp or
// Fiber's router write them directly. So the security headers are not a middleware: the
// server's handler and error handler are wrapped, and every answer leaves with the same
// headers; those a handler set itself (a download's sandboxing CSP, the assets'
// Cache-Control) are kept.

// securityHeaders are the headers of every answer, in canonical form (they are set without
// fasthttp's per-call normalisation, which is most of what setting them costs).
var securityHeaders = canonical([][2]string{
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
})

// canonical turns header pairs into byte slices once.
func canonical(kvs [][2]string) [][2][]byte {
	out := make([][2][]byte, len(kvs))
	for i, kv := range kvs {
		out[i] = [2][]byte{[]byte(kv[0]), []byte(kv[1])}
	}
	return out
}

var (
	hstsKey   = []byte("Strict-Transport-Security")
	hstsValue = []byte(hstsHeader)
)

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
		if len(h.PeekBytes(kv[0])) == 0 {
			h.SetCanonical(kv[0], kv[1])
		}
	}
	if (s.cfg.SecureCookies || ctx.IsTLS()) && len(h.PeekBytes(hstsKey)) == 0 {
		h.SetCanonical(hstsKey, hstsValue)
	}
}
