// Package upload is the HTTP edge of attachments: streaming multipart uploads in bounded
// memory (Stream), the body limit for every other route when the server streams request
// bodies (LimitBody), and the headers a download is served with (SetDownloadHeaders). What a
// file is called and what it is (clean names, sniffed types) is package sql/files's.
package upload

import (
	"mime"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/files"
)

// DownloadCSP is the Content-Security-Policy of every download: a sandbox (no scripts, no
// forms, an opaque origin) that fetches nothing. (Browsers' built-in PDF viewers do not run
// in a sandboxed document: files.Inline serves PDFs as attachments for that reason.)
const DownloadCSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"

// SetDownloadHeaders sets the headers a stored file is served with: its sniffed type when it
// is shown inline, application/octet-stream otherwise (so that nothing renders it even if
// Content-Disposition were ignored), Content-Disposition inline or attachment with the
// file name (ContentDisposition), nosniff, the sandbox CSP, and no caching outside the
// browser. The caller still sets Content-Length, ETag and the body.
func SetDownloadHeaders(c *fiber.Ctx, name, sniffed string) {
	inline := files.Inline(sniffed)
	if inline {
		c.Set(fiber.HeaderContentType, sniffed)
	} else {
		c.Set(fiber.HeaderContentType, fiber.MIMEOctetStream)
	}
	c.Set(fiber.HeaderContentDisposition, ContentDisposition(name, inline))
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentSecurityPolicy, DownloadCSP)
	c.Set("Cross-Origin-Resource-Policy", "same-origin")
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
}

// ContentDisposition returns an RFC 6266 Content-Disposition value for a file: "inline" or
// "attachment", an ASCII filename for old clients (other characters as "_") and the exact
// name as an RFC 5987 filename* (UTF-8, percent-encoded). name should come from CleanName;
// quotes, backslashes and control characters are replaced here too.
func ContentDisposition(name string, inline bool) string {
	disp := "attachment"
	if inline {
		disp = "inline"
	}
	var ascii strings.Builder
	for _, r := range name {
		if r < 0x20 || r >= 0x7f || r == '"' || r == '\\' {
			r = '_'
		}
		ascii.WriteRune(r)
	}
	v := disp + `; filename="` + ascii.String() + `"`
	if ascii.String() != name {
		v += "; filename*=UTF-8''" + encode5987(name)
	}
	return v
}

// encode5987 percent-encodes every byte of s that is not an RFC 5987 attr-char.
func encode5987(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func isAttrChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

// parseDisposition returns the disposition and file name of a Content-Disposition value, as
// a client reads it (filename* before filename); for tests and for multipart part headers.
func parseDisposition(v string) (disp, name string, hasName bool, err error) {
	disp, params, err := mime.ParseMediaType(v)
	if err != nil {
		return "", "", false, err
	}
	name, hasName = params["filename"]
	return disp, name, hasName, nil
}
