// Package jsondoc reads a JSON document the way Sluice's document parsers
// (pipelines, canary configs) report on it: a syntax error, or data after
// the document, names its line and column; a decoded value's type and an
// object key's path are written as messages show them. It knows no
// document's shape; that is the parsers' own.
package jsondoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Decode decodes data, one JSON value, into v; numbers decoded into an
// interface are json.Number, so none loses precision. Anything but
// whitespace after the value is an error that names its place and says it
// came after what ("the pipeline object").
func Decode(data []byte, v any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return syntaxError(data, err)
	}
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		line, col := position(data, len(data)-len(rest))
		return fmt.Errorf("parse JSON: line %d, column %d: unexpected data after %s", line, col, what)
	}
	return nil
}

// syntaxError turns a decoding error into one naming the line and column.
func syntaxError(data []byte, err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		line, col := position(data, int(syntax.Offset)-1)
		return fmt.Errorf("parse JSON: line %d, column %d: %s", line, col, syntax.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		line, col := position(data, len(data))
		return fmt.Errorf("parse JSON: line %d, column %d: unexpected end of document; a bracket or quote is not closed", line, col)
	}
	return fmt.Errorf("parse JSON: %w", err)
}

// position returns the 1-based line and column (in characters) of a byte
// offset into data; an offset out of range is clamped to it.
func position(data []byte, offset int) (line, col int) {
	offset = max(0, min(offset, len(data)))
	before := data[:offset]
	line = 1 + bytes.Count(before, []byte("\n"))
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[lineStart:]) + 1
}

// TypeName names a decoded value's JSON type for a message: "an object",
// "a list", "a number" (json.Number or any Go number), "null".
func TypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
		float32, float64, json.Number:
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}

// JoinKey appends an object key to a path: base.key when the key is an
// identifier (isIdent), base["key"] otherwise; a key alone has no dot.
func JoinKey(base, key string) string {
	if !isIdent(key) {
		return base + "[" + strconv.Quote(key) + "]"
	}
	if base == "" {
		return key
	}
	return base + "." + key
}

// isIdent reports whether s is an identifier of ASCII letters, digits, _
// and $, not starting with a digit, which a path writes after a dot.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}
