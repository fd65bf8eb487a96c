// Package upload is the HTTP edge of attachments: streaming multipart uploads in bounded
// memory (Stream), the body limit for every other route when the server streams request
// bodies (LimitBody), file-name cleaning (CleanName), and the headers a download is served
// with, from the type sniffed from the content (Sniff, SetDownloadHeaders).
package upload

import (
	"strings"
	"unicode"
	"unicode/utf8"
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
