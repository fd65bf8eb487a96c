package upload

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"os"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantdesk/tenantdesk/sql/files"
)

// Limits bound one upload request. Zero values take the defaults in brackets.
type Limits struct {
	// FileField is the form field files come in ("attachment"); a file in any other field
	// is refused.
	FileField string
	// MaxFiles bounds the files of one request (10).
	MaxFiles int
	// MaxFileBytes bounds each file (10 MiB): MAX_ATTACHMENT_MB << 20.
	MaxFileBytes int64
	// MaxFields and MaxFieldBytes bound the plain form fields (16 of 64 KiB): the message
	// text, the CSRF token.
	MaxFields     int
	MaxFieldBytes int64
	// IdleTimeout is how long the client may send nothing before the upload is dropped
	// (30 s); MaxDuration bounds the whole upload (10 minutes). They replace the server's
	// read timeout for this request, which is sized for small bodies.
	IdleTimeout, MaxDuration time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.FileField == "" {
		l.FileField = "attachment"
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = 10
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = 10 << 20
	}
	if l.MaxFields <= 0 {
		l.MaxFields = 16
	}
	if l.MaxFieldBytes <= 0 {
		l.MaxFieldBytes = 64 << 10
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 30 * time.Second
	}
	if l.MaxDuration <= 0 {
		l.MaxDuration = 10 * time.Minute
	}
	return l
}

// MaxBody is the largest request body the limits allow: every file and field at its limit,
// plus room for the multipart framing. A Content-Length above it is refused before reading.
func (l Limits) MaxBody() int64 {
	l = l.withDefaults()
	parts := int64(l.MaxFiles + l.MaxFields)
	return int64(l.MaxFiles)*l.MaxFileBytes + int64(l.MaxFields)*l.MaxFieldBytes + parts*(maxPartHeader+256)
}

// maxPartHeader bounds the boundary line and headers of one part; mime/multipart alone would
// accept 10 MiB of them.
const maxPartHeader = 16 << 10

// Kind says what was wrong with an upload.
type Kind int

// The kinds of upload errors, each with its HTTP status (Error.Status).
const (
	// NotMultipart: the request is not multipart/form-data with a boundary (415).
	NotMultipart Kind = iota + 1
	// TooLarge: a file is over MaxFileBytes, or the body over MaxBody (413).
	TooLarge
	// FieldTooLarge: a plain field is over MaxFieldBytes (413).
	FieldTooLarge
	// TooManyFiles: more than MaxFiles files (422).
	TooManyFiles
	// TooManyFields: more than MaxFields plain fields (422).
	TooManyFields
	// EmptyFile: a file with a name and no content (422).
	EmptyFile
	// UnexpectedFile: a file in a field other than FileField (422).
	UnexpectedFile
	// Malformed: the multipart body cannot be parsed (400).
	Malformed
	// CutOff: the body ended or the connection broke before the end of the form (400; the
	// client is usually gone).
	CutOff
	// TimedOut: the client sent nothing for IdleTimeout, or the upload took MaxDuration (408).
	TimedOut
)

// Error is an upload refused or broken off. Stream returns it, also when the consumer's
// error wraps it.
type Error struct {
	Kind Kind
	// Limit is the limit exceeded (bytes for TooLarge and FieldTooLarge, a count for
	// TooManyFiles and TooManyFields), for the answer to name it.
	Limit int64
	// FileName is the cleaned name of the file concerned, if any.
	FileName string
	// Field is the form field concerned, if any.
	Field string
	err   error
}

func (e *Error) Error() string {
	var s string
	switch e.Kind {
	case NotMultipart:
		s = "not a multipart/form-data request"
	case TooLarge:
		s = fmt.Sprintf("file over the %s limit", FormatBytes(e.Limit))
	case FieldTooLarge:
		s = fmt.Sprintf("form field over the %s limit", FormatBytes(e.Limit))
	case TooManyFiles:
		s = fmt.Sprintf("more than %d files", e.Limit)
	case TooManyFields:
		s = fmt.Sprintf("more than %d form fields", e.Limit)
	case EmptyFile:
		s = "empty file"
	case UnexpectedFile:
		s = "file in an unexpected field"
	case Malformed:
		s = "malformed multipart body"
	case CutOff:
		s = "upload cut off"
	case TimedOut:
		s = "upload timed out"
	default:
		s = "upload failed"
	}
	if e.FileName != "" {
		s += fmt.Sprintf(" (%q)", e.FileName)
	}
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return "upload: " + s
}

func (e *Error) Unwrap() error { return e.err }

// Status returns the HTTP status that answers e.
func (e *Error) Status() int {
	switch e.Kind {
	case NotMultipart:
		return fiber.StatusUnsupportedMediaType
	case TooLarge, FieldTooLarge:
		return fiber.StatusRequestEntityTooLarge
	case TooManyFiles, TooManyFields, EmptyFile, UnexpectedFile:
		return fiber.StatusUnprocessableEntity
	case TimedOut:
		return fiber.StatusRequestTimeout
	default:
		return fiber.StatusBadRequest
	}
}

// FormatBytes writes a limit as people read it: "10 MB" for 10 MiB, "512 KB", "100 bytes".
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// Part is one form field or file of an upload, handed to the consumer in the order the
// client sent them.
type Part struct {
	// Field is the form field's name.
	Field string
	// Value is a plain field's value (at most MaxFieldBytes); empty for files.
	Value string
	// FileName is a file's name, cleaned (files.CleanName); empty for plain fields.
	FileName string
	// Type is a file's media type, sniffed from its content (files.Sniff).
	Type string
	file bool
	r    io.Reader
}

// IsFile reports whether p is a file; its content is then read from p.
func (p *Part) IsFile() bool { return p.file }

// Read reads a file's content. It returns an *Error (TooLarge, CutOff, TimedOut) instead of
// the content past a limit or when the body breaks off: the consumer must then discard what
// it kept of the upload, by returning the error.
func (p *Part) Read(b []byte) (int, error) {
	if p.r == nil {
		return 0, io.EOF
	}
	return p.r.Read(b)
}

// Stream reads a multipart/form-data request body as it arrives and hands each part to fn,
// files as readers, in memory bounded by a few buffers whatever the files' sizes. The server
// must run with fiber.Config{StreamRequestBody: true, DisablePreParseMultipartForm: true}
// (otherwise fasthttp has read the whole body, into memory or temporary files, before the
// handler runs), and the route must not pass through LimitBody.
//
// Stream returns nil only when the whole form was read and fn accepted every part. Any
// error means the upload is refused or broken: whatever fn kept of it must be discarded (the
// caller keeps it in one transaction and rolls back). The error is an *Error for what the
// client did wrong (its Status answers it) or fn's own error. After an error the rest of the
// body is left unread, so the connection is closed after the answer.
//
// A file field without a name and without content (a form's file input left empty) is
// skipped. fn need not read a file to its end; Stream reads the rest, to enforce the limit.
func Stream(c *fiber.Ctx, lim Limits, fn func(*Part) error) (err error) {
	lim = lim.withDefaults()
	defer func() {
		if err != nil {
			c.Context().SetConnectionClose()
		}
	}()
	mt, params, perr := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	boundary := params["boundary"]
	if perr != nil || mt != fiber.MIMEMultipartForm || boundary == "" {
		return &Error{Kind: NotMultipart, err: perr}
	}
	if n := c.Request().Header.ContentLength(); int64(n) > lim.MaxBody() {
		return &Error{Kind: TooLarge, Limit: lim.MaxFileBytes}
	}
	body := bodyReader(c)
	if body == nil {
		return &Error{Kind: Malformed, err: errors.New("no request body")}
	}
	src := &source{
		r:        body,
		conn:     c.Context().Conn(),
		idle:     lim.IdleTimeout,
		deadline: time.Now().Add(lim.MaxDuration),
		max:      lim.MaxBody(),
		fileMax:  lim.MaxFileBytes,
	}
	mr := multipart.NewReader(src, boundary)
	nfiles, fields := 0, 0
	for {
		src.headerBudget = maxPartHeader
		p, err := mr.NextPart()
		src.headerBudget = -1
		if err == io.EOF {
			break
		}
		if err != nil {
			return src.classify(err, Malformed, "")
		}
		disp, name, hasName, derr := parseDisposition(p.Header.Get("Content-Disposition"))
		field := p.FormName()
		if derr != nil || disp != "form-data" || field == "" {
			return &Error{Kind: Malformed, err: fmt.Errorf("part without a form-data name: %v", derr)}
		}
		if !hasName {
			fields++
			if fields > lim.MaxFields {
				return &Error{Kind: TooManyFields, Limit: int64(lim.MaxFields), Field: field}
			}
			v, err := io.ReadAll(io.LimitReader(p, lim.MaxFieldBytes+1))
			if err != nil {
				return src.classify(err, Malformed, "")
			}
			if int64(len(v)) > lim.MaxFieldBytes {
				return &Error{Kind: FieldTooLarge, Limit: lim.MaxFieldBytes, Field: field}
			}
			if err := fn(&Part{Field: field, Value: string(v)}); err != nil {
				return err
			}
			continue
		}
		clean := files.CleanName(name)
		if field != lim.FileField {
			return &Error{Kind: UnexpectedFile, Field: field, FileName: clean}
		}
		head := make([]byte, files.SniffBytes)
		n, err := io.ReadFull(p, head)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return src.classify(err, Malformed, clean)
		}
		head = head[:n]
		if n == 0 {
			if strings.TrimSpace(name) == "" {
				continue // a file input left empty
			}
			return &Error{Kind: EmptyFile, FileName: clean}
		}
		nfiles++
		if nfiles > lim.MaxFiles {
			return &Error{Kind: TooManyFiles, Limit: int64(lim.MaxFiles), FileName: clean}
		}
		if int64(n) > lim.MaxFileBytes {
			return &Error{Kind: TooLarge, Limit: lim.MaxFileBytes, FileName: clean}
		}
		typ := files.Sniff(head)
		if strings.TrimSpace(name) == "" || clean == files.DefaultName {
			if m := files.Ext(typ); m != "" {
				clean = files.DefaultName + m
			}
		}
		fr := &fileReader{
			head:  head,
			part:  p,
			src:   src,
			limit: lim.MaxFileBytes,
			name:  clean,
		}
		part := &Part{Field: field, FileName: clean, Type: typ, file: true, r: fr}
		if err := fn(part); err != nil {
			return preferOwn(err)
		}
		// Whatever fn left unread is read here, so the size limit holds and the form goes on.
		if _, err := io.Copy(io.Discard, fr); err != nil {
			return preferOwn(err)
		}
	}
	drainEpilogue(c, src)
	return nil
}

// preferOwn returns the *Error inside err when there is one, so that the answer is the
// limit's, whatever the consumer wrapped it in.
func preferOwn(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return err
}

// bodyReader returns the request body as a stream: fasthttp's when the server streams
// request bodies, the buffered body otherwise.
func bodyReader(c *fiber.Ctx) io.Reader {
	if c.Request().IsBodyStream() {
		return c.Context().RequestBodyStream()
	}
	return bytes.NewReader(c.Request().Body())
}

// drainEpilogue reads what follows the closing boundary (nothing, from browsers), a little
// at most; with more left the connection is closed rather than read on.
func drainEpilogue(c *fiber.Ctx, src *source) {
	n, err := io.Copy(io.Discard, io.LimitReader(src, 4<<10+1))
	if err != nil || n > 4<<10 {
		c.Context().SetConnectionClose()
	}
}

// fileReader is a file's content: the sniffed head, then the rest of the part, limited.
type fileReader struct {
	head  []byte
	part  *multipart.Part
	src   *source
	limit int64
	read  int64
	name  string
	err   error
}

func (f *fileReader) Read(b []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	if len(f.head) > 0 {
		n := copy(b, f.head)
		f.head = f.head[n:]
		f.read += int64(n)
		return n, nil
	}
	n, err := f.part.Read(b)
	f.read += int64(n)
	if f.read > f.limit {
		f.err = &Error{Kind: TooLarge, Limit: f.limit, FileName: f.name}
		return 0, f.err
	}
	if err != nil && err != io.EOF {
		f.err = f.src.classify(err, CutOff, f.name)
		return n, f.err
	}
	return n, err
}

// source is the request body as multipart reads it: it moves the connection's read
// deadline along as data arrives, bounds the whole body, and bounds the bytes NextPart may
// read for one part's headers.
type source struct {
	r        io.Reader
	conn     net.Conn
	idle     time.Duration
	deadline time.Time
	max      int64
	fileMax  int64 // named in the error when the body is over max
	total    int64
	// headerBudget is the bytes NextPart may still read (-1 outside NextPart).
	headerBudget int64
	err          error
}

var errHeaderTooLarge = errors.New("part header too large")
var errBodyTooLarge = errors.New("body too large")

func (s *source) Read(b []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.headerBudget == 0 {
		s.err = errHeaderTooLarge
		return 0, s.err
	}
	if s.headerBudget > 0 && int64(len(b)) > s.headerBudget {
		b = b[:s.headerBudget]
	}
	if s.conn != nil {
		d := time.Now().Add(s.idle)
		if d.After(s.deadline) {
			d = s.deadline
		}
		// A connection that refuses deadlines (a test's in-memory one) just has none.
		_ = s.conn.SetReadDeadline(d)
	}
	n, err := s.r.Read(b)
	s.total += int64(n)
	if s.headerBudget > 0 {
		s.headerBudget -= int64(n)
	}
	if s.total > s.max {
		s.err = errBodyTooLarge
		return 0, s.err
	}
	return n, err
}

// classify turns a read error into an *Error: the body's own limits, a timeout, a body that
// ended early, or else kind.
func (s *source) classify(err error, kind Kind, name string) error {
	var own *Error
	switch {
	case errors.As(err, &own):
		return own
	case errors.Is(err, errBodyTooLarge):
		return &Error{Kind: TooLarge, Limit: s.fileMax, FileName: name, err: err}
	case errors.Is(err, errHeaderTooLarge):
		return &Error{Kind: Malformed, err: err}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &Error{Kind: TimedOut, FileName: name, err: err}
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || isNetErr(err):
		return &Error{Kind: CutOff, FileName: name, err: err}
	}
	return &Error{Kind: kind, FileName: name, err: err}
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}
