package pipeline

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Expression is one ${…} span in a string.
type Expression struct {
	// Start is the byte offset of "${"; End is the offset just past the
	// matching "}".
	Start, End int
	// Body is the text between "${" and the matching "}".
	Body string
}

// FindExpressions returns the ${…} spans of s in order. A span ends at the
// "}" that matches its "${", counting nested braces and skipping quoted
// strings ('…' and "…", with backslash escapes), so ${ {'a': '}'} } is one
// span. An unterminated "${" is an error; the spans before it are returned
// with it.
func FindExpressions(s string) ([]Expression, error) {
	var out []Expression
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			break
		}
		start := i + j
		end, ok := matchBrace(s, start+2)
		if !ok {
			return out, fmt.Errorf(`unterminated "${" at character %d; close it with "}"`,
				utf8.RuneCountInString(s[:start])+1)
		}
		out = append(out, Expression{Start: start, End: end, Body: s[start+2 : end-1]})
		i = end
	}
	return out, nil
}

// matchBrace returns the offset just past the "}" that closes a brace
// opened before pos.
func matchBrace(s string, pos int) (end int, ok bool) {
	depth := 1
	for k := pos; k < len(s); k++ {
		switch c := s[k]; c {
		case '\'', '"':
			for k++; k < len(s) && s[k] != c; k++ {
				if s[k] == '\\' {
					k++
				}
			}
			if k >= len(s) {
				return 0, false
			}
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return k + 1, true
			}
		}
	}
	return 0, false
}
