package email

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode/utf8"
)

// OutFile is a file to send with an email.
type OutFile struct {
	// Name is the file's name as the recipient sees it (a cleaned name: one line, no path).
	Name string
	// ContentType is the file's media type (sniffed from its content when it was stored);
	// anything malformed is sent as application/octet-stream.
	ContentType string
	// Data is read once, to its end.
	Data io.Reader
}

// Attach returns the email raw (as Compose wrote it: a header, a blank line, a body) with
// files attached: the body becomes the first part of a multipart/mixed message and each file
// a base64 part with Content-Disposition: attachment. Names travel both ways mail clients
// read them: RFC 2231 (filename*, UTF-8 percent-encoded) in Content-Disposition, an RFC 2047 encoded
// word in Content-Type's name for older clients; plain ASCII names are simply quoted. The
// boundary is derived from raw, so the same email with the same files gives the same bytes
// (a retry sends what the first attempt did). With no files raw is returned as is.
func Attach(raw []byte, files []OutFile) ([]byte, error) {
	if len(files) == 0 {
		return raw, nil
	}
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, errors.New("email: attach: the email has no header")
	}
	header, body := raw[:end+2], raw[end+4:]
	// The fields that describe the body move into its part; the others stay.
	var keep, entity bytes.Buffer
	for len(header) > 0 {
		n := fieldEnd(header)
		field := header[:n]
		name, _, _ := bytes.Cut(field, []byte(":"))
		switch strings.ToLower(strings.TrimSpace(string(name))) {
		case "content-type", "content-transfer-encoding":
			entity.Write(field)
		case "mime-version":
		default:
			keep.Write(field)
		}
		header = header[n:]
	}
	if entity.Len() == 0 {
		entity.WriteString("Content-Type: text/plain; charset=us-ascii\r\n")
	}
	sum := sha256.Sum256(raw)
	boundary := "tenantdesk-mixed-" + hex.EncodeToString(sum[:12])
	var out bytes.Buffer
	out.Grow(len(raw) + 1024)
	out.Write(keep.Bytes())
	out.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n boundary=\"" + boundary + "\"\r\n\r\n")
	out.WriteString("--" + boundary + "\r\n")
	out.Write(entity.Bytes())
	out.WriteString("\r\n")
	out.Write(body)
	if !bytes.HasSuffix(body, []byte("\r\n")) {
		out.WriteString("\r\n")
	}
	for i, f := range files {
		out.WriteString("--" + boundary + "\r\n")
		name := outFileName(f.Name, i+1)
		ct := mediaType(f.ContentType)
		out.WriteString("Content-Type: " + ct + ";\r\n name=" + encodedName(name) + "\r\n")
		out.WriteString("Content-Disposition: " + mime.FormatMediaType("attachment", map[string]string{"filename": name}) + "\r\n")
		out.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
		if err := writeBase64(&out, f.Data); err != nil {
			return nil, fmt.Errorf("email: attach %q: %w", name, err)
		}
	}
	out.WriteString("--" + boundary + "--\r\n")
	return out.Bytes(), nil
}

// fieldEnd is the length of the header field that h starts with, continuation lines
// included.
func fieldEnd(h []byte) int {
	n := 0
	for {
		i := bytes.Index(h[n:], []byte("\r\n"))
		if i < 0 {
			return len(h)
		}
		n += i + 2
		if n >= len(h) || (h[n] != ' ' && h[n] != '\t') {
			return n
		}
	}
}

// outFileName makes a name safe for a header: one line of valid UTF-8 without quotes or
// backslashes, at most 200 bytes; "attachment-N" when nothing is left.
func outFileName(name string, n int) string {
	name = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, CleanLine(name))
	if len(name) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut]
	}
	if strings.TrimSpace(name) == "" {
		return fmt.Sprintf("attachment-%d", n)
	}
	return name
}

// encodedName is a Content-Type name parameter's value: the name quoted, or as RFC 2047
// encoded words inside the quotes when it is not plain printable ASCII.
func encodedName(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c >= 0x7f {
			return `"` + mime.BEncoding.Encode("utf-8", name) + `"`
		}
	}
	return `"` + name + `"`
}

// writeBase64 writes r's bytes as base64 in lines of 76 characters, each ending in CRLF.
func writeBase64(out *bytes.Buffer, r io.Reader) error {
	buf := make([]byte, 57*1024) // 57 bytes make one 76-character line
	line := make([]byte, 76)
	for {
		n, err := io.ReadFull(r, buf)
		for i := 0; i < n; i += 57 {
			j := min(i+57, n)
			base64.StdEncoding.Encode(line, buf[i:j])
			out.Write(line[:base64.StdEncoding.EncodedLen(j-i)])
			out.WriteString("\r\n")
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
