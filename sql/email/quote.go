package email

import (
	"regexp"
	"strings"
)

// attribution matches the line a mail client writes above the quoted message ("On Mon, 1 Jan
// 2024 at 10:00, Ann <ann@example.com> wrote:") in the languages most clients ship, once any
// line break inside it has been joined.
var attribution = regexp.MustCompile(`(?i)^(?:` +
	`on\b.{1,300}\bwrote` + // English
	`|am\b.{1,300}\bschrieb\b.{0,300}` + // German
	`|le\b.{1,300}\ba écrit` + // French
	`|el\b.{1,300}\bescribió` + // Spanish
	`|op\b.{1,300}\bschreef\b.{0,300}` + // Dutch
	`|il\b.{1,300}\bha scritto` + // Italian
	`|em\b.{1,300}\bescreveu` + // Portuguese
	`|den\b.{1,300}\bskrev\b.{0,300}` + // Swedish, Danish, Norwegian
	`|.{1,300}<[^<>\s]+@[^<>\s]+>\s*(?:wrote|schrieb|a écrit|escribió|skrev|kirjoitti|napisał)` +
	`)\s*:\s*$`)

// originalMessage matches the separators Outlook and other clients put above a quoted
// message that they do not prefix with ">".
var originalMessage = regexp.MustCompile(`(?i)^\s*(?:` +
	`-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|` +
	`messaggio originale|oorspronkelijk bericht|mensagem original|originalmeddelande)\s*-{2,}` +
	`|_{20,}` +
	`)\s*$`)

// forwardMarker matches the line above a forwarded message: what follows is the content the
// sender passes on, not history to trim.
var forwardMarker = regexp.MustCompile(`(?i)^\s*(?:-{2,}\s*(?:forwarded message|weitergeleitete nachricht|message transféré|mensaje reenviado|messaggio inoltrato|doorgestuurd bericht)\s*-{2,}|begin forwarded message:)\s*$`)

// headerBlock matches the first line of an Outlook-style quoted header ("From: …") and its
// companions ("Sent:", "Date:", "To:", "Subject:" and their German and French names).
var (
	headerFrom      = regexp.MustCompile(`(?i)^\*?(?:from|von|de|van|da)\s*:\*?\s*\S`)
	headerCompanion = regexp.MustCompile(`(?i)^\*?(?:sent|date|to|subject|cc|gesendet|datum|an|betreff|envoyé|à|objet|enviado|para|asunto|verzonden|onderwerp|aan)\s*:\*?`)
)

// TrimQuoted returns text without the quoted history a reply carries below the new part:
// from our own ReplyAboveLine (quoted or not) or a separator like "-----Original
// Message-----" or an Outlook header block, and a trailing ">" quote with the attribution
// line above it. Quotes interleaved with answers are kept, and so is a forwarded message
// (its content is the question). When trimming would leave nothing, text is returned whole.
func TrimQuoted(text string) string {
	lines := strings.Split(text, "\n")
	cut := len(lines)
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		unquoted := strings.TrimSpace(strings.TrimLeft(line, "> "))
		if strings.Contains(unquoted, ReplyAboveLine) {
			cut = i
			break
		}
		if forwardMarker.MatchString(line) {
			break
		}
		if originalMessage.MatchString(line) || outlookBlock(lines, i) {
			cut = i
			break
		}
		if n := attributionAt(lines, i); n > 0 && quotedOrBlankFrom(lines, i+n) {
			cut = i
			break
		}
	}
	lines = lines[:cut]
	// A trailing ">" quote, then the attribution right above it.
	end := lastNonBlank(lines)
	quoted := false
	for end >= 0 && (strings.HasPrefix(strings.TrimSpace(lines[end]), ">") || strings.TrimSpace(lines[end]) == "") {
		if strings.TrimSpace(lines[end]) != "" {
			quoted = true
		}
		end--
	}
	if quoted {
		lines = lines[:end+1]
		for back := 1; back <= 3 && len(lines)-back >= 0; back++ {
			if attributionAt(lines, len(lines)-back) == back {
				lines = lines[:len(lines)-back]
				break
			}
		}
	}
	out := strings.TrimRight(strings.Join(lines, "\n"), " \t\n")
	if strings.TrimSpace(out) == "" {
		return text
	}
	return out
}

// attributionAt reports how many lines (1 to 3) starting at i form an attribution line, or 0.
// Clients wrap long attributions, so up to three lines are joined.
func attributionAt(lines []string, i int) int {
	joined := ""
	for n := 1; n <= 3 && i+n-1 < len(lines); n++ {
		l := strings.TrimSpace(lines[i+n-1])
		if l == "" || strings.HasPrefix(l, ">") && n > 1 {
			return 0
		}
		if n == 1 {
			joined = l
		} else {
			joined += " " + l
		}
		if len(joined) > 600 {
			return 0
		}
		if attribution.MatchString(joined) {
			return n
		}
	}
	return 0
}

// quotedOrBlankFrom reports whether every line from i on is blank or starts with ">", with at
// least one quoted line: the attribution introduces only quoted history.
func quotedOrBlankFrom(lines []string, i int) bool {
	quoted := false
	for _, l := range lines[min(i, len(lines)):] {
		l = strings.TrimSpace(l)
		switch {
		case l == "":
		case strings.HasPrefix(l, ">"):
			quoted = true
		default:
			return false
		}
	}
	return quoted
}

// outlookBlock reports whether line i starts an Outlook-style header block: "From:" followed
// within the next four lines by at least two of Sent/Date, To and Subject.
func outlookBlock(lines []string, i int) bool {
	if !headerFrom.MatchString(strings.TrimSpace(lines[i])) {
		return false
	}
	n := 0
	for j := i + 1; j < len(lines) && j <= i+4; j++ {
		if headerCompanion.MatchString(strings.TrimSpace(lines[j])) {
			n++
		}
	}
	return n >= 2
}

func lastNonBlank(lines []string) int {
	i := len(lines) - 1
	for i >= 0 && strings.TrimSpace(lines[i]) == "" {
		i--
	}
	return i
}
