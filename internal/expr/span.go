package expr

import (
	"fmt"
	"strings"
)

// Span is one ${…} expression found in a string.
type Span struct {
	Start int    // byte offset of the "${"
	End   int    // byte offset just past the closing "}"
	Expr  string // the expression body between the braces, as written
}

// SpanError reports a ${ that has no matching }.
type SpanError struct {
	Offset int    // byte offset of the "${" (or of the quote) that is not closed
	Msg    string // what is wrong and how to fix it
}

func (e *SpanError) Error() string {
	return fmt.Sprintf("%s (at offset %d)", e.Msg, e.Offset)
}

// Spans finds the ${…} expressions in s, in order. Inside an expression,
// braces nest and quoted strings ('…' or "…", with a doubled quote standing
// for itself, as in SpEL) are skipped, so "${ {'a': '}'} }" is one span. It
// returns a *SpanError when a ${ or a quoted string inside one is never closed.
func Spans(s string) ([]Span, error) {
	var spans []Span
	for i := 0; ; {
		k := strings.Index(s[i:], "${")
		if k < 0 {
			return spans, nil
		}
		start := i + k
		end, err := spanEnd(s, start)
		if err != nil {
			return spans, err
		}
		spans = append(spans, Span{Start: start, End: end, Expr: s[start+2 : end-1]})
		i = end
	}
}

// spanEnd returns the offset just past the "}" that closes the "${" at start.
func spanEnd(s string, start int) (int, error) {
	depth := 0
	for j := start + 2; j < len(s); j++ {
		switch c := s[j]; c {
		case '\'', '"':
			e := strings.IndexByte(s[j+1:], c)
			if e < 0 {
				return 0, &SpanError{Offset: j, Msg: fmt.Sprintf("unterminated string %c… inside ${: close the quote", c)}
			}
			j += 1 + e
		case '{':
			depth++
		case '}':
			if depth == 0 {
				return j + 1, nil
			}
			depth--
		}
	}
	return 0, &SpanError{Offset: start, Msg: "unterminated ${: add the closing }"}
}
