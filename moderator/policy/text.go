package policy

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Messages and reasons stay on one line whatever an operator or a token put
// into a name, a pattern or a claim.

// listText renders a list as [a b c], quoting entries that are empty or hold
// white space, brackets or control characters.
func listText(items []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range items {
		if i > 0 {
			b.WriteByte(' ')
		}
		if s == "" || strings.ContainsFunc(s, needsQuote) {
			b.WriteString(strconv.Quote(s))
		} else {
			b.WriteString(s)
		}
	}
	b.WriteByte(']')
	return b.String()
}

// patternText renders a regular expression as '^a.*$', or quoted with
// escapes if it holds control characters.
func patternText(raw string) string {
	if strings.ContainsFunc(raw, breaksLine) {
		return strconv.Quote(raw)
	}
	return "'" + raw + "'"
}

// escapeControl escapes what would break a message across lines.
func escapeControl(s string) string {
	if !strings.ContainsFunc(s, breaksLine) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// plainName reports whether a name (a provider, an issuer, a claim) can be
// shown without quoting: no white space and no control characters.
func plainName(s string) bool {
	return s != "" && !strings.ContainsFunc(s, needsQuote)
}

func breaksLine(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\u0085'
}

func needsQuote(r rune) bool {
	return unicode.IsSpace(r) || breaksLine(r) || r == '[' || r == ']' || r == '"'
}

// regexpProblem is what the regexp package found, without its prefix.
func regexpProblem(err error) string {
	return escapeControl(strings.TrimPrefix(err.Error(), "error parsing regexp: "))
}

// describeName is "empty" or the name quoted, for load errors.
func describeName(s string) string {
	if s == "" {
		return "empty"
	}
	return strconv.Quote(s)
}

// oneLineSource collapses an expression's white space, for messages.
func oneLineSource(src string) string {
	return clip(strings.Join(strings.Fields(src), " "))
}

// maxShownSource bounds how much of an expression a message repeats.
const maxShownSource = 160

func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxShownSource {
		return s
	}
	return string([]rune(s)[:maxShownSource-1]) + "…"
}

// firstLine keeps the first line of a library's message.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return escapeControl(s)
}

func trimmedEmpty(s string) bool { return strings.TrimSpace(s) == "" }

// patternsText renders patterns as ['^a$' '^b$'], the way reasons show them.
func patternsText(subjects []subjectPattern) string {
	parts := make([]string, len(subjects))
	for i, s := range subjects {
		parts[i] = patternText(s.raw)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// idsText renders SPIFFE ID patterns as written.
func idsText(ids []spiffePattern) string {
	parts := make([]string, len(ids))
	for i, s := range ids {
		parts[i] = s.raw
	}
	return "[" + strings.Join(parts, " ") + "]"
}
