package upload

import (
	"bytes"
	"io"

	"github.com/gofiber/fiber/v2"
)

// LimitBody bounds request bodies to limit bytes on a server that streams request bodies
// (fiber.Config{StreamRequestBody: true}). With streaming on, fasthttp enforces no body limit
// at all (Config.BodyLimit then only sizes the first 8 KiB it reads ahead), c.Body() reads
// however much the client sends, and a body the handler leaves unread stays on the
// connection, where the server would parse it as the next request. So every route except the
// streaming upload routes goes through LimitBody, which restores what the server does
// without streaming: a body over limit gets 413 (fiber.ErrRequestEntityTooLarge, through the
// app's error handler) without being read, on a connection that is then closed; any other
// body is read whole before the handler runs, so c.Body(), c.FormValue and c.BodyParser
// work as usual.
//
// next, when not nil, skips the middleware for requests it returns true for (Fiber's Next
// convention).
func LimitBody(limit int, next func(c *fiber.Ctx) bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if next != nil && next(c) {
			return c.Next()
		}
		req := c.Request()
		if n := req.Header.ContentLength(); n > limit {
			c.Context().SetConnectionClose()
			return fiber.ErrRequestEntityTooLarge
		}
		if !req.IsBodyStream() {
			// Not streaming: fasthttp has read the body and enforced its own limit.
			return c.Next()
		}
		// Read up to one byte past the limit (a chunked body has no length to check first).
		// Not req.Body(): on a broken connection it makes the error text the body.
		var buf bytes.Buffer
		n, err := io.Copy(&buf, io.LimitReader(c.Context().RequestBodyStream(), int64(limit)+1))
		if n > int64(limit) {
			c.Context().SetConnectionClose()
			return fiber.ErrRequestEntityTooLarge
		}
		if cl := req.Header.ContentLength(); err != nil || (cl >= 0 && n != int64(cl)) {
			c.Context().SetConnectionClose()
			return fiber.ErrBadRequest
		}
		req.SetBody(buf.Bytes())
		return c.Next()
	}
}
