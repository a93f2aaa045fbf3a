package control

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A CreateFunction or UpdateFunctionCode request carries its package as a
// base64 string inside JSON (Code.ZipFile, or ZipFile): up to 50 MB of zip
// in a 70 MB body. encoding/json would hold the body, the string and the
// decoded bytes in memory at once — four such uploads took a gigabyte — so
// these requests are split as they are read: the ZipFile string is
// base64-decoded straight into a file, and the rest of the document, which
// AWS keeps small, is kept with null in its place and decoded as usual.
// Only that one string is treated specially; the rest is copied byte for
// byte, and json.Unmarshal judges whether it is valid JSON.

// maxRequestMembers bounds what a code request holds in memory: everything
// but its ZipFile. AWS's largest members (environment variables, 4 KB;
// tags; a description) are far below it.
const maxRequestMembers = 1 << 20

// errMembersTooLarge: the members other than ZipFile passed
// maxRequestMembers.
var errMembersTooLarge = errors.New("request members too large")

// zipFileSplitter splits a JSON document read from in: the string at path
// (object keys from the root, matched without regard to case, as
// encoding/json matches them) goes through a base64 decoder to zip; every
// other byte goes to rest, with null for the string.
type zipFileSplitter struct {
	in   *bufio.Reader
	rest bytes.Buffer
	path []string
	// zip receives the decoded package. It is called once per ZipFile in
	// the document (a later one replaces an earlier one, as with
	// encoding/json) and returns the writer to decode into.
	zip   func() (io.Writer, error)
	stack []jsonFrame
	seen  bool // zip has been called
}

// jsonFrame is an open object or array.
type jsonFrame struct {
	object    bool
	expectKey bool   // the next string in this object is a key
	key       string // the current member's key, if short enough to match
}

func (s *zipFileSplitter) split() error {
	for {
		c, err := s.in.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		top := len(s.stack) - 1
		if s.seen && startsValue(c) && s.atPath() {
			// A later ZipFile that is not a string (null, say) replaces
			// the earlier one, as with encoding/json: forget the package.
			if _, err := s.zip(); err != nil {
				return err
			}
		}
		switch c {
		case '{', '[':
			s.stack = append(s.stack, jsonFrame{object: c == '{', expectKey: c == '{'})
		case '}', ']':
			if top >= 0 {
				s.stack = s.stack[:top]
			}
		case ':':
			if top >= 0 && s.stack[top].object {
				s.stack[top].expectKey = false
			}
		case ',':
			if top >= 0 && s.stack[top].object {
				s.stack[top].expectKey, s.stack[top].key = true, ""
			}
		case '"':
			switch {
			case top >= 0 && s.stack[top].object && s.stack[top].expectKey:
				key, err := s.copyString(true)
				if err != nil {
					return err
				}
				s.stack[top].key = key
			case s.atPath():
				if err := s.decodeZipFile(); err != nil {
					return err
				}
			default:
				if _, err := s.copyString(false); err != nil {
					return err
				}
			}
			continue
		}
		s.rest.WriteByte(c)
		if s.rest.Len() > maxRequestMembers {
			return errMembersTooLarge
		}
	}
}

// atPath reports whether the next value is the one at s.path.
func (s *zipFileSplitter) atPath() bool {
	if len(s.stack) != len(s.path) {
		return false
	}
	for i, f := range s.stack {
		if !f.object || f.expectKey || !strings.EqualFold(f.key, s.path[i]) {
			return false
		}
	}
	return true
}

// copyString copies a string whose opening quote has been read to rest,
// and, if key, returns its value when it is short enough to be a member
// name that matters.
func (s *zipFileSplitter) copyString(key bool) (string, error) {
	start := s.rest.Len()
	s.rest.WriteByte('"')
	escaped, hasEscape := false, false
	for {
		c, err := s.in.ReadByte()
		if err != nil {
			return "", unexpectedEOF(err)
		}
		s.rest.WriteByte(c)
		if s.rest.Len() > maxRequestMembers {
			return "", errMembersTooLarge
		}
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped, hasEscape = true, true
		case c == '"':
			raw := s.rest.Bytes()[start:]
			if !key || len(raw) > 64 {
				return "", nil
			}
			if !hasEscape {
				return string(raw[1 : len(raw)-1]), nil
			}
			v, err := strconv.Unquote(string(raw))
			if err != nil {
				return "", nil // json.Unmarshal reports it
			}
			return v, nil
		}
	}
}

// decodeZipFile decodes the string whose opening quote has been read into
// the writer s.zip gives, and writes null to rest in its place.
func (s *zipFileSplitter) decodeZipFile() error {
	w, err := s.zip()
	if err != nil {
		return err
	}
	s.seen = true
	s.rest.WriteString("null")
	str := &jsonStringReader{in: s.in}
	if _, err := io.Copy(w, base64.NewDecoder(base64.StdEncoding, str)); err != nil {
		return err
	}
	if !str.done {
		// The decoder stopped at the padding with characters left.
		if _, err := io.Copy(io.Discard, str); err != nil {
			return err
		}
		return base64.CorruptInputError(str.n)
	}
	return nil
}

// jsonStringReader reads the characters of a JSON string, its escapes
// decoded, up to its closing quote.
type jsonStringReader struct {
	in   *bufio.Reader
	n    int64 // characters read
	done bool  // the closing quote has been read
	buf  [utf8.UTFMax]byte
	pend []byte // decoded bytes of an escape not yet returned
}

func (r *jsonStringReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.pend) > 0 {
			k := copy(p[n:], r.pend)
			r.pend, n = r.pend[k:], n+k
			continue
		}
		if r.done {
			break
		}
		// The plain run of characters already buffered, in one copy.
		if r.in.Buffered() == 0 {
			if _, err := r.in.Peek(1); err != nil {
				return n, unexpectedEOF(err)
			}
		}
		run, _ := r.in.Peek(min(r.in.Buffered(), len(p)-n))
		plain := 0
		for plain < len(run) && run[plain] != '"' && run[plain] != '\\' && run[plain] >= 0x20 {
			plain++
		}
		if plain > 0 {
			copy(p[n:], run[:plain])
			_, _ = r.in.Discard(plain)
			n += plain
			r.n += int64(plain)
			continue
		}
		c, _ := r.in.ReadByte() // buffered: cannot fail
		r.n++
		switch {
		case c == '"':
			r.done = true
		case c < 0x20:
			return n, &jsonSyntaxError{fmt.Sprintf("invalid character %q in string literal", c)}
		default:
			if err := r.escape(); err != nil {
				return n, err
			}
		}
	}
	if n == 0 && r.done {
		return 0, io.EOF
	}
	return n, nil
}

// escape decodes the escape after a backslash into r.pend.
func (r *jsonStringReader) escape() error {
	c, err := r.in.ReadByte()
	if err != nil {
		return unexpectedEOF(err)
	}
	if i := strings.IndexByte(`"\/bfnrt`, c); i >= 0 {
		r.buf[0] = "\"\\/\b\f\n\r\t"[i]
		r.pend = r.buf[:1]
		return nil
	}
	if c != 'u' {
		return &jsonSyntaxError{fmt.Sprintf("invalid escape \\%c in string literal", c)}
	}
	ru, err := r.hex4()
	if err != nil {
		return err
	}
	if utf16.IsSurrogate(ru) {
		// A pair is \uD8xx\uDCxx; anything else is U+FFFD, as in
		// encoding/json.
		if b, _ := r.in.Peek(2); string(b) == `\u` {
			_, _ = r.in.Discard(2)
			lo, err := r.hex4()
			if err != nil {
				return err
			}
			ru = utf16.DecodeRune(ru, lo)
		} else {
			ru = utf8.RuneError
		}
	}
	r.pend = r.buf[:utf8.EncodeRune(r.buf[:], ru)]
	return nil
}

func (r *jsonStringReader) hex4() (rune, error) {
	var b [4]byte
	if _, err := io.ReadFull(r.in, b[:]); err != nil {
		return 0, unexpectedEOF(err)
	}
	v, err := strconv.ParseUint(string(b[:]), 16, 16)
	if err != nil {
		return 0, &jsonSyntaxError{fmt.Sprintf("invalid escape \\u%s in string literal", b[:])}
	}
	return rune(v), nil
}

// startsValue reports whether c begins (or continues) a JSON value other
// than a string.
func startsValue(c byte) bool {
	return c == '{' || c == '[' || c == 'n' || c == 't' || c == 'f' || c == '-' || c >= '0' && c <= '9'
}

// jsonSyntaxError is a string the splitter cannot read: a control
// character or a bad escape.
type jsonSyntaxError struct{ msg string }

func (e *jsonSyntaxError) Error() string { return e.msg }

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
