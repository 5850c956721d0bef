package sqlshell

import "strings"

// Split cuts text into the complete statements it holds, each ended by a
// semicolon outside quotes and comments, and returns them without the
// semicolon, trimmed of surrounding white space. Statements that hold only
// white space and comments are dropped. rest is the unfinished tail (an
// unterminated statement, string, quoted identifier, block comment or
// dollar-quoted body); the caller keeps it and appends the next line.
//
// The lexing is rough, like psql's: '...' strings (with doubled quotes and, after E,
// backslash escapes), "..." identifiers, -- and nested /* */ comments, and
// $tag$...$tag$ bodies. It does not need to be exact: the server parses.
func Split(text string) (stmts []string, rest string) {
	stmts, rest, _ = split(text)
	return stmts, rest
}

// split is Split that also reports whether rest holds anything but white
// space and comments.
func split(text string) (stmts []string, rest string, content bool) {
	start := 0
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\'':
			escapes := i > 0 && (text[i-1] == 'E' || text[i-1] == 'e') && (i < 2 || !isIdentByte(text[i-2]))
			j := skipQuoted(text, i+1, '\'', escapes)
			if j < 0 {
				return stmts, text[start:], true
			}
			i, content = j, true
		case c == '"':
			j := skipQuoted(text, i+1, '"', false)
			if j < 0 {
				return stmts, text[start:], true
			}
			i, content = j, true
		case c == '-' && i+1 < len(text) && text[i+1] == '-':
			nl := strings.IndexByte(text[i:], '\n')
			if nl < 0 {
				i = len(text)
			} else {
				i += nl + 1
			}
		case c == '/' && i+1 < len(text) && text[i+1] == '*':
			j := skipBlockComment(text, i+2)
			if j < 0 {
				return stmts, text[start:], content
			}
			i = j
		case c == '$' && (i == 0 || !isIdentByte(text[i-1])):
			tag := dollarTag(text[i:])
			if tag == "" {
				i, content = i+1, true
				break
			}
			end := strings.Index(text[i+len(tag):], tag)
			if end < 0 {
				return stmts, text[start:], true
			}
			i, content = i+len(tag)+end+len(tag), true
		case c == ';':
			if content {
				stmts = append(stmts, strings.TrimSpace(text[start:i]))
			}
			i++
			start, content = i, false
		default:
			if !isSpace(c) {
				content = true
			}
			i++
		}
	}
	return stmts, text[start:], content
}

// HasContent reports whether the unfinished tail of text (after its last
// complete statement) holds anything but white space and comments: whether
// it is worth sending at end of input.
func HasContent(text string) bool {
	_, _, content := split(text)
	return content
}

// skipQuoted returns the index just past the quote closing a quoted run
// that starts at i (after the opening quote), or -1 if it is unterminated.
// A doubled quote is an escaped quote; with escapes, so is a backslash pair.
func skipQuoted(text string, i int, quote byte, escapes bool) int {
	for i < len(text) {
		switch c := text[i]; {
		case escapes && c == '\\':
			i += 2
		case c == quote:
			if i+1 < len(text) && text[i+1] == quote {
				i += 2
				continue
			}
			return i + 1
		default:
			i++
		}
	}
	return -1
}

// skipBlockComment returns the index just past the */ closing a (possibly
// nested) block comment whose body starts at i, or -1 if it is unterminated.
func skipBlockComment(text string, i int) int {
	depth := 1
	for i+1 < len(text) {
		switch {
		case text[i] == '/' && text[i+1] == '*':
			depth++
			i += 2
		case text[i] == '*' && text[i+1] == '/':
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return -1
}

// dollarTag returns the $tag$ or $$ opening s, or "" if s does not open a
// dollar quote ($1 is a parameter, not a tag).
func dollarTag(s string) string {
	for j := 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '$':
			return s[:j+1]
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
		case c >= '0' && c <= '9' && j > 1:
		default:
			return ""
		}
	}
	return ""
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
