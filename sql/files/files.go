// Package files says what a stored file is called and what it is: file names cleaned of
// what makes them unsafe to store and show (CleanName), types sniffed from the content, never
// taken from a client (Sniff), and which types a browser may show in place (Inline). The
// desk applies them to every file it stores, whoever sends it (a browser's upload, an
// email's attachment); the HTTP layer applies them again to what it streams and serves.
package files

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gabriel-vasile/mimetype"
)

// MaxNameBytes bounds a cleaned file name in bytes (file systems allow 255; the name also
// travels in headers and pages).
const MaxNameBytes = 180

// maxExtBytes is the longest ending after the last dot kept as an extension when a name is
// shortened.
const maxExtBytes = 16

// DefaultName is the name of a file whose name is empty once cleaned.
const DefaultName = "file"

// CleanName returns a file name safe to store and to show: the client's name without any
// directory (either separator, as old browsers send whole Windows paths), without control
// characters, bidirectional overrides and other invisible format characters (a
// right-to-left override makes "gpj.exe" look like "exe.jpg"), without the characters
// Windows refuses in names, with runs of spaces made one, no leading or trailing spaces or
// dots (so "..", "." and hidden-file names go), and at most MaxNameBytes bytes with the
// extension kept. It returns DefaultName when nothing is left.
func CleanName(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	space := false
	for _, r := range name {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case dropRune(r):
			continue
		case strings.ContainsRune(`<>:"|?*`, r):
			r = '_'
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	name = strings.Trim(b.String(), " .")
	if len(name) > MaxNameBytes {
		name = strings.Trim(shorten(name), " .")
	}
	if name == "" {
		return DefaultName
	}
	return name
}

// dropRune reports the runes removed from names: everything that is not a letter, mark,
// number, punctuation or symbol — control characters (Cc), format characters (Cf: bidi
// overrides and isolates, zero-width spaces and joiners, the BOM, soft hyphens), line and
// paragraph separators, private-use, surrogate and unassigned code points — and U+FFFD.
func dropRune(r rune) bool {
	return r == utf8.RuneError || !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S)
}

// shorten cuts name to MaxNameBytes at a rune boundary, keeping a short extension.
func shorten(name string) string {
	ext := ""
	if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= maxExtBytes {
		ext = name[i:]
		name = name[:i]
	}
	keep := MaxNameBytes - len(ext)
	for keep > 0 && !utf8.RuneStart(name[keep]) {
		keep--
	}
	return strings.TrimRight(name[:keep], " .") + ext
}

// SniffBytes is how much of a file's beginning Sniff needs (mimetype's read limit).
const SniffBytes = 4096

// Sniff returns the media type of a file from its first bytes (at most SniffBytes are
// looked at), without parameters: "image/png", "text/html", "application/octet-stream" for
// unknown binary data. The client's Content-Type is never consulted.
func Sniff(head []byte) string {
	if len(head) > SniffBytes {
		head = head[:SniffBytes]
	}
	t := mimetype.Detect(head).String()
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	return t
}

// Ext returns the usual extension of a sniffed type (".png"), "" when it has none.
func Ext(sniffed string) string {
	if m := mimetype.Lookup(sniffed); m != nil {
		return m.Extension()
	}
	return ""
}

// inlineTypes are shown in the browser; every other type is downloaded. SVG and HTML can
// carry scripts and are never among them. PDF is not either: every download is served with a
// sandbox CSP, and browsers' built-in PDF viewers do not run in a sandboxed document
// (Chromium shows "This page has been blocked"), so an inline PDF would show nothing; as an
// attachment it opens in the reader's PDF application instead. The sandbox stays for every
// type: a PDF can carry scripts, forms and links of its own.
var inlineTypes = map[string]bool{
	"image/png":  true,
	"image/jpeg": true,
	"image/gif":  true,
	"image/webp": true,
}

// Inline reports whether files of the sniffed type are shown in the browser rather than
// downloaded.
func Inline(sniffed string) bool { return inlineTypes[sniffed] }
