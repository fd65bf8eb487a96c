package handlers

// Attachments over HTTP: a message POST in multipart/form-data streams its files into the
// desk as they arrive (upload.Stream), and each stored file is served at its message page's
// URL + "/files/{fileId}" to whoever may see the message.
//
// The server streams request bodies (fiber.Config.StreamRequestBody), so that an upload is
// never held in memory or in temporary files. Every other request's body is read whole, up
// to BodyLimit, by bodyLimit before any handler runs; an upload's body is read by its
// handler alone, and a connection whose upload body was not read to its end is closed after
// the answer (the rest would otherwise be parsed as the next request).

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/handlers/upload"
	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

const (
	// csrfDeferredLocal marks an upload whose CSRF token comes as the form's first field, read
	// by the upload's handler (verifyCSRF would have to buffer the body to read it).
	csrfDeferredLocal = "csrf_deferred"
	// bodyReadLocal marks a streamed upload whose body was read to its end.
	bodyReadLocal = "body_read"
)

// isStreamedUpload reports whether the request is a multipart message POST, the one request
// whose body its handler streams.
func isStreamedUpload(c *fiber.Ctx) bool {
	return c.Method() == fiber.MethodPost && isMultipart(c) && uploadPath(c.Path())
}

// uploadPath reports whether path is a message list's — /conversation/{id}/messages,
// /agent/{org}/talk/{id}/messages or /customer/{org}/t/{token}/messages — as Fiber routes it:
// case-insensitively, with or without one trailing slash, no segment empty.
func uploadPath(path string) bool {
	segs := strings.Split(strings.TrimSuffix(path, "/"), "/")
	if len(segs) < 2 || segs[0] != "" || !strings.EqualFold(segs[len(segs)-1], "messages") {
		return false
	}
	for _, s := range segs[1 : len(segs)-1] {
		if s == "" {
			return false
		}
	}
	switch len(segs) {
	case 4: // /conversation/{id}/messages
		return strings.EqualFold(segs[1], "conversation")
	case 6: // /agent/{org}/talk/{id}/messages, /customer/{org}/t/{token}/messages
		return (strings.EqualFold(segs[1], "agent") && strings.EqualFold(segs[3], "talk")) ||
			(strings.EqualFold(segs[1], "customer") && strings.EqualFold(segs[3], "t"))
	}
	return false
}

func isMultipart(c *fiber.Ctx) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(c.Get(fiber.HeaderContentType))), fiber.MIMEMultipartForm)
}

// bodyLimit reads every request body whole, up to BodyLimit (413 above it), before anything
// else runs — except a streamed upload's, which its handler reads; a connection whose upload
// body was left unread is closed after the answer.
func (s *Server) bodyLimit() fiber.Handler {
	limit := upload.LimitBody(s.cfg.BodyLimit, nil)
	return func(c *fiber.Ctx) error {
		if !isStreamedUpload(c) {
			return limit(c)
		}
		err := c.Next()
		if read, _ := c.Locals(bodyReadLocal).(bool); !read {
			c.Context().SetConnectionClose()
		}
		return err
	}
}

// uploadLimits are the limits a message's files stream under: the desk's.
func (s *Server) uploadLimits() upload.Limits {
	fl := s.desk.FileLimits()
	return upload.Limits{FileField: "attachment", MaxFiles: fl.MaxFiles, MaxFileBytes: fl.MaxFileBytes,
		MaxFields: 8, MaxFieldBytes: int64(4*s.cfg.MessageLimit + 1024)}
}

var errUploadCSRF = errors.New("upload without a valid CSRF token before its first field")

// sendWithFiles is sendMessage for a multipart POST: the files stream into the desk as they
// arrive, the message text comes from the `message` field, and the message is stored with the
// files (or, when a file is refused or the upload breaks off, nothing is kept). The actor
// must be allowed to write before a byte of the body is read.
func (s *Server) sendWithFiles(c *fiber.Ctx, convID int64, pageURL string,
	rerender func(draft, msg string, status int) error) error {
	ctx, org, a := c.UserContext(), currentOrg(c), actor(c)
	up, err := s.desk.StartUpload(ctx, org, a, convID)
	if err != nil {
		if e, ok := apperr.As(err); ok && (e.Kind == apperr.Conflict || e.Kind == apperr.Forbidden) {
			return s.refuseSend(c, "", sentence(e), kindStatus[e.Kind], rerender)
		}
		return err
	}
	defer up.Discard()
	deferred, _ := c.Locals(csrfDeferredLocal).(bool)
	var raw string
	err = upload.Stream(c, s.uploadLimits(), func(p *upload.Part) error {
		if deferred {
			if p.IsFile() || p.Field != "_csrf" || s.checkCSRFToken(c, p.Value) != nil {
				return errUploadCSRF
			}
			deferred = false
			return nil
		}
		switch {
		case p.IsFile():
			_, err := up.Add(ctx, desk.NewFile{Name: p.FileName}, p)
			return err
		case p.Field == "message":
			raw = strings.Clone(p.Value)
		}
		return nil
	})
	if err == nil && deferred {
		err = errUploadCSRF // a form without a token at all
	}
	if err == nil {
		c.Locals(bodyReadLocal, true)
	}
	switch {
	case errors.Is(err, errUploadCSRF):
		return s.csrfFailed(c, err)
	case err != nil:
		msg, status, ok := s.uploadWords(ctx, c, err)
		if !ok {
			return err
		}
		return s.refuseSend(c, "", msg, status, rerender)
	}
	body, fail := checkMessage(raw, s.cfg.MessageLimit)
	if fail != "" && (strings.TrimSpace(raw) != "" || len(up.Files()) == 0) {
		if len(up.Files()) == 0 && strings.TrimSpace(raw) == "" {
			fail = "Write a message or attach a file first."
		}
		return s.refuseSend(c, body, fail, fiber.StatusUnprocessableEntity, rerender)
	}
	msg, err := s.desk.AddMessageWithFiles(ctx, org, a, convID, body, up)
	if err != nil {
		if m, status, ok := s.uploadWords(ctx, c, err); ok {
			return s.refuseSend(c, body, m, status, rerender)
		}
		e, ok := apperr.As(err)
		if !ok || (e.Kind != apperr.Conflict && e.Kind != apperr.Forbidden) {
			return err
		}
		return s.refuseSend(c, body, sentence(e), kindStatus[e.Kind], rerender)
	}
	return s.sent(c, msg, pageURL)
}

// uploadWords words an upload refused by the stream's limits or by the desk: the limit or the
// figure it ran into, with its status. ok is false for any other error.
func (s *Server) uploadWords(ctx context.Context, c *fiber.Ctx, err error) (msg string, status int, ok bool) {
	var ue *upload.Error
	if errors.As(err, &ue) {
		named := ""
		if ue.FileName != "" {
			named = " (" + ue.FileName + ")"
		}
		switch ue.Kind {
		case upload.TooLarge:
			return "Files may be at most " + upload.FormatBytes(ue.Limit) + " each" + named + ".", ue.Status(), true
		case upload.FieldTooLarge:
			return "The message is too long.", ue.Status(), true
		case upload.TooManyFiles:
			return fmt.Sprintf("Attach at most %d files to one message.", ue.Limit), ue.Status(), true
		case upload.EmptyFile:
			return "The file" + named + " is empty.", ue.Status(), true
		case upload.UnexpectedFile, upload.TooManyFields, upload.NotMultipart, upload.Malformed:
			return "The form could not be read. Please try again.", ue.Status(), true
		case upload.CutOff, upload.TimedOut:
			return "The upload did not arrive completely. Please try again.", ue.Status(), true
		}
		return "The upload failed. Please try again.", ue.Status(), true
	}
	e, isApp := apperr.As(err)
	if !isApp {
		return "", 0, false
	}
	fl := s.desk.FileLimits()
	switch e.Code {
	case desk.CodeFileTooLarge:
		return "Files may be at most " + upload.FormatBytes(fl.MaxFileBytes) + " each.", fiber.StatusRequestEntityTooLarge, true
	case desk.CodeQuotaExceeded:
		msg := "This organization's storage for files is full"
		if st, err := s.desk.Storage(ctx, currentOrg(c), desk.AsSystem()); err == nil && st.QuotaBytes > 0 {
			msg += fmt.Sprintf(": %s of %s used", upload.FormatBytes(st.FileBytes), upload.FormatBytes(st.QuotaBytes))
		}
		return msg + ".", fiber.StatusRequestEntityTooLarge, true
	case desk.CodeTooManyFiles:
		return fmt.Sprintf("Attach at most %d files to one message.", fl.MaxFiles), fiber.StatusUnprocessableEntity, true
	case desk.CodeEmptyFile:
		return "A file is empty.", fiber.StatusUnprocessableEntity, true
	case desk.CodeUploadExpired, desk.CodeUploadClosed:
		return "The upload took too long. Please send the files again.", fiber.StatusConflict, true
	}
	return "", 0, false
}

// download handles GET …/files/:fileId of a message page (the owner's, an agent's, a
// customer's): the file, if the viewer may see its message (404 otherwise). Raster images
// are shown inline, everything else downloads; every answer carries nosniff and a sandbox
// CSP (upload.SetDownloadHeaders). It answers Range requests (one range; several, or one
// that If-Range rules out, get the whole file) and revalidates by ETag (the content's
// SHA-256).
func (s *Server) download(c *fiber.Ctx) error {
	id, err := paramID(c, "fileId")
	if err != nil {
		return err
	}
	var conv int64
	if actor(c).Kind != desk.Customer {
		if conv, err = convParam(c); err != nil {
			return err
		}
	}
	d, err := s.desk.Download(c.UserContext(), currentOrg(c), actor(c), conv, id)
	if err != nil {
		return err
	}
	etag := `"` + hex.EncodeToString(d.SHA256[:]) + `"`
	upload.SetDownloadHeaders(c, d.Name, d.Type)
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderAcceptRanges, "bytes")
	if upload.ETagMatch(c.Get(fiber.HeaderIfNoneMatch), etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	off, n := int64(0), d.Size
	if rng := c.Get(fiber.HeaderRange); rng != "" && (c.Get(fiber.HeaderIfRange) == "" || c.Get(fiber.HeaderIfRange) == etag) {
		start, length, err := upload.ParseRange(rng, d.Size)
		switch {
		case errors.Is(err, upload.ErrUnsatisfiable):
			c.Set(fiber.HeaderContentRange, "bytes */"+strconv.FormatInt(d.Size, 10))
			c.Response().ResetBody()
			return c.SendStatus(fiber.StatusRequestedRangeNotSatisfiable)
		case err == nil:
			off, n = start, length
			c.Status(fiber.StatusPartialContent)
			c.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, d.Size))
		}
	}
	c.Response().SetBodyStream(d.Reader(off, n), int(n))
	return nil
}
