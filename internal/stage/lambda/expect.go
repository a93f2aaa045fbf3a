package lambda

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/sluice-cd/sluice/internal/stage"
)

// Expectations on an invocation's response — a Sluice extension of the
// Invoke stage, also honoured by Route $BLUEGREEN. Each is optional; every
// one given must hold for an invocation to pass.
//
//	expectedOutput  JSON equal: the response and the expected value decode to
//	                the same JSON value, ignoring whitespace and object key
//	                order (numbers compare by value: 1 == 1.0). A string that
//	                parses as JSON is that JSON; any other string is compared
//	                with the response text, whitespace removed (Spinnaker's
//	                blue/green comparison).
//	expectedSubset  JSON subset: every key of an expected object is present in
//	                the response with a matching value (recursively); arrays
//	                match element by element and must have the same length;
//	                scalars are equal. A string is parsed as JSON.
//	expectedRegex   a Go (RE2) regular expression searched for in the raw
//	                response payload, unanchored.
//
// The response is the function's payload. When it is an object with a
// string "body" (an API Gateway-style response), expectedOutput and
// expectedSubset also accept a match on that body, as Spinnaker compares
// the body — so an expectation written for Spinnaker keeps working.
type expectations struct {
	artifact  *expectedJSON // Route $BLUEGREEN's outputArtifact: compared as expectedOutput
	output    *expectedJSON
	subset    *expectedJSON
	regex     *regexp.Regexp
	regexText string
}

// expectedJSON is one expected value: a decoded JSON value, or (raw) text
// when the expectation is a string that is not JSON.
type expectedJSON struct {
	field string // the field it came from, for messages
	value any    // decoded with UseNumber
	text  string // set when the expectation is not JSON
	isRaw bool
}

// empty reports whether no expectation is set.
func (e expectations) empty() bool {
	return e.artifact == nil && e.output == nil && e.subset == nil && e.regex == nil
}

// expectationFields are the expectation fields of a stage.
type expectationFields struct {
	ExpectedOutput stage.JSONField   `json:"expectedOutput"`
	ExpectedSubset stage.JSONField   `json:"expectedSubset"`
	ExpectedRegex  stage.StringField `json:"expectedRegex" hint:"a regular expression"`
}

func (s *expectationFields) check(c *stage.Checker) {
	_, errs := s.parse()
	c.Add(errs...)
}

// parse reads the expectations; errors name the field that is wrong.
func (s *expectationFields) parse() (expectations, []stage.FieldError) {
	var e expectations
	var errs []stage.FieldError
	for _, x := range []struct {
		f        *stage.JSONField
		dst      **expectedJSON
		allowRaw bool
	}{{&s.ExpectedOutput, &e.output, true}, {&s.ExpectedSubset, &e.subset, false}} {
		if !x.f.Set() {
			continue
		}
		v, err := newExpectedJSON(x.f.Path(), x.f.Value, x.allowRaw)
		if err != nil {
			errs = append(errs, stage.FieldError{Field: x.f.Path(), Msg: err.Error()})
			continue
		}
		*x.dst = v
	}
	if r := s.ExpectedRegex.Value; s.ExpectedRegex.Set() && r != "" {
		re, err := regexp.Compile(r)
		if err != nil {
			errs = append(errs, stage.FieldError{Field: s.ExpectedRegex.Path(), Msg: "is not a valid regular expression: " + err.Error()})
		} else {
			e.regex, e.regexText = re, r
		}
	}
	return e, errs
}

func newExpectedJSON(field string, v any, allowRaw bool) (*expectedJSON, error) {
	x := &expectedJSON{field: field}
	if s, ok := v.(string); ok {
		val, err := decodeJSON([]byte(s))
		if err == nil {
			x.value = val
			return x, nil
		}
		if !allowRaw {
			return nil, fmt.Errorf("must be JSON (an object, list or value), and this string is not: %v", err)
		}
		x.text, x.isRaw = s, true
		return x, nil
	}
	// A value from the pipeline document: normalise it through JSON so that
	// numbers compare by value.
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cannot be read as JSON: %v", err)
	}
	val, err := decodeJSON(b)
	if err != nil {
		return nil, err
	}
	x.value = val
	return x, nil
}

// check returns nil when every expectation holds for payload, else an error
// saying which one failed and where.
func (e expectations) check(payload []byte) error {
	var problems []string
	var actual any
	actualErr := error(nil)
	if e.artifact != nil || e.output != nil || e.subset != nil {
		actual, actualErr = decodeJSON(payload)
	}
	if e.artifact != nil {
		if why := e.artifact.match(payload, actual, actualErr, equalJSON); why != "" {
			problems = append(problems, "the response differs from outputArtifact: "+why)
		}
	}
	if e.output != nil {
		if why := e.output.match(payload, actual, actualErr, equalJSON); why != "" {
			problems = append(problems, "expectedOutput: "+why)
		}
	}
	if e.subset != nil {
		if why := e.subset.match(payload, actual, actualErr, subsetJSON); why != "" {
			problems = append(problems, "expectedSubset: "+why)
		}
	}
	if e.regex != nil && !e.regex.Match(payload) {
		problems = append(problems, fmt.Sprintf("expectedRegex: %q does not match the response %s", e.regexText, quoteSnippet(payload)))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(problems, "; "))
}

// compareFunc reports where actual differs from expected ("" when it does
// not), with path the JSON path so far.
type compareFunc func(path string, expected, actual any) string

// match compares the expected value with the response, and with its
// "body" when the response is an object with a string body.
func (x *expectedJSON) match(payload []byte, actual any, actualErr error, cmp compareFunc) string {
	if x.isRaw {
		want := stripSpace(x.text)
		if stripSpace(string(payload)) == want {
			return ""
		}
		if body, ok := bodyOf(actual); ok && stripSpace(body) == want {
			return ""
		}
		if s, ok := actual.(string); ok && stripSpace(s) == want {
			return ""
		}
		return fmt.Sprintf("want %s, got %s", quoteSnippet([]byte(x.text)), quoteSnippet(payload))
	}
	if actualErr != nil {
		return fmt.Sprintf("the response is not JSON (%v): %s", actualErr, quoteSnippet(payload))
	}
	why := cmp("$", x.value, actual)
	if why == "" {
		return ""
	}
	if body, ok := bodyOf(actual); ok {
		if b, err := decodeJSON([]byte(body)); err == nil && cmp("$", x.value, b) == "" {
			return ""
		}
	}
	return why
}

// bodyOf returns the string "body" of an API Gateway-style response.
func bodyOf(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	s, ok := m["body"].(string)
	return s, ok
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) > 0 {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

// equalJSON is JSON equality: same types, objects with the same keys,
// arrays in the same order, numbers equal by value.
func equalJSON(path string, want, got any) string { return compareJSON(path, want, got, true) }

// subsetJSON is JSON containment: objects may have extra keys.
func subsetJSON(path string, want, got any) string { return compareJSON(path, want, got, false) }

// compareJSON explains the first difference between want and got, or
// returns "". With exact, got's objects may not have keys want lacks.
func compareJSON(path string, want, got any, exact bool) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return mismatch(path, want, got)
		}
		for _, k := range sortedKeys(w) {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("at %s: key %q is missing", path, k)
			}
			if why := compareJSON(childPath(path, k), w[k], gv, exact); why != "" {
				return why
			}
		}
		if exact {
			for _, k := range sortedKeys(g) {
				if _, ok := w[k]; !ok {
					return fmt.Sprintf("at %s: unexpected key %q", path, k)
				}
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return mismatch(path, want, got)
		}
		if len(w) != len(g) {
			return fmt.Sprintf("at %s: want %d elements, got %d", path, len(w), len(g))
		}
		for i := range w {
			if why := compareJSON(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], exact); why != "" {
				return why
			}
		}
		return ""
	}
	if scalarEqual(want, got) {
		return ""
	}
	return mismatch(path, want, got)
}

func scalarEqual(want, got any) bool {
	switch w := want.(type) {
	case json.Number:
		g, ok := got.(json.Number)
		if !ok {
			return false
		}
		a, okA := new(big.Rat).SetString(string(w))
		b, okB := new(big.Rat).SetString(string(g))
		if okA && okB {
			return a.Cmp(b) == 0
		}
		return w == g
	case string:
		g, ok := got.(string)
		return ok && w == g
	case bool:
		g, ok := got.(bool)
		return ok && w == g
	case nil:
		return got == nil
	}
	return false
}

func mismatch(path string, want, got any) string {
	return fmt.Sprintf("at %s: want %s, got %s", path, compactJSON(want), compactJSON(got))
}

func childPath(path, key string) string {
	if key != "" && isIdent(key) {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

func isIdent(s string) bool {
	for i, r := range s {
		if r != '_' && !unicode.IsLetter(r) && (i == 0 || !unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// compactJSON renders v for a message, shortened.
func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return snippet(string(b))
}

// quoteSnippet renders a response for a message, shortened.
func quoteSnippet(b []byte) string {
	return snippet(string(b))
}

const snippetLen = 300

func snippet(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= snippetLen {
		return s
	}
	cut := snippetLen
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d bytes)", len(s))
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}
