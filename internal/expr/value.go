package expr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// normalizer copies a value into plain JSON data — nil, bool, int, float64,
// string, []any, map[string]any — counting its approximate JSON size against
// a budget, so a value that shares one big string a million times is caught
// before anything materialises it.
type normalizer struct {
	budget int  // bytes left
	r      *run // for checkpoints
	nodes  int  // values visited
	copied int  // about the memory the copy takes
}

// errBudget and errDepth are returned by normalize; callers turn them into
// messages that name what was being built.
var (
	errBudget = errors.New("over budget")
	errDepth  = errors.New("too deep")
)

type notDataError struct{ t reflect.Type }

func (e *notDataError) Error() string {
	return fmt.Sprintf("a value of Go type %s, which is not data", e.t)
}

func (n *normalizer) spend(k int) error {
	n.budget -= k
	if n.budget < 0 {
		return errBudget
	}
	return nil
}

func (n *normalizer) normalize(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errDepth
	}
	if n.nodes++; n.nodes%1024 == 0 && n.r != nil {
		if err := n.r.tick(); err != nil {
			return nil, err
		}
	}
	switch x := v.(type) {
	case nil:
		return nil, n.spend(4)
	case string:
		return x, n.spend(len(x) + 2)
	case bool:
		return x, n.spend(5)
	case int:
		return x, n.spend(8)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, errorf("%v is not a finite number (a division by zero?)", x)
		}
		return x, n.spend(8)
	case []any:
		if err := n.spend(len(x) + 2); err != nil {
			return nil, err
		}
		n.copied += 24 + 16*len(x)
		out := make([]any, len(x))
		for i, e := range x {
			c, err := n.normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		n.copied += 48 + 64*len(x)
		out := make(map[string]any, len(x))
		for k, e := range x {
			if err := n.spend(len(k) + 4); err != nil {
				return nil, err
			}
			c, err := n.normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, n.spend(2)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i), n.spend(8)
		}
		f, err := x.Float64()
		if err != nil {
			return nil, errorf("%q is not a number", string(x))
		}
		return n.normalize(f, depth)
	}
	return n.normalizeReflect(reflect.ValueOf(v), depth)
}

func (n *normalizer) normalizeReflect(v reflect.Value, depth int) (any, error) {
	switch v.Kind() {
	case reflect.Bool:
		return v.Bool(), n.spend(5)
	case reflect.String:
		return v.String(), n.spend(v.Len() + 2)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(v.Int()), n.spend(8)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := v.Uint(); u <= math.MaxInt64 {
			return int(u), n.spend(8)
		}
		return float64(v.Uint()), n.spend(8)
	case reflect.Float32, reflect.Float64:
		return n.normalize(v.Float(), depth)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil, n.spend(4)
		}
		if err := n.spend(v.Len() + 2); err != nil {
			return nil, err
		}
		n.copied += 24 + 16*v.Len()
		out := make([]any, v.Len())
		for i := range out {
			c, err := n.normalize(v.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case reflect.Map:
		if v.IsNil() {
			return nil, n.spend(4)
		}
		n.copied += 48 + 64*v.Len()
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			k, err := mapKey(it.Key())
			if err != nil {
				return nil, err
			}
			if err := n.spend(len(k) + 4); err != nil {
				return nil, err
			}
			c, err := n.normalize(it.Value().Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, n.spend(2)
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil, n.spend(4)
		}
		if v.Kind() == reflect.Interface {
			return n.normalize(v.Elem().Interface(), depth)
		}
	}
	return nil, &notDataError{t: v.Type()}
}

// mapKey renders a map key (groupBy can produce non-string keys) as a string.
func mapKey(k reflect.Value) (string, error) {
	if k.Kind() == reflect.Interface {
		if k.IsNil() {
			return "null", nil
		}
		k = k.Elem()
	}
	switch k.Kind() {
	case reflect.String:
		return k.String(), nil
	case reflect.Bool:
		return strconv.FormatBool(k.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(k.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return formatFloat(k.Float()), nil
	}
	return "", &notDataError{t: k.Type()}
}

// toData normalises v for output or serialisation, with messages that say
// which limit was hit by what, and charges the copy to the memory budget.
func (r *run) toData(v any, what string) (any, error) {
	n := &normalizer{budget: r.maxBytes, r: r}
	out, err := n.normalize(v, 0)
	switch err {
	case nil:
		if err := r.alloc(n.copied, "copying ", what); err != nil {
			return nil, err
		}
		return out, nil
	case errBudget:
		return nil, r.stop(&limitError{msg: fmt.Sprintf("%s is larger than the %d-byte limit", what, r.maxBytes), err: ErrTooLarge})
	case errDepth:
		return nil, r.stop(&limitError{msg: fmt.Sprintf("%s nests more than %d levels deep", what, maxDepth), err: ErrTooLarge})
	}
	if nd, ok := err.(*notDataError); ok {
		return nil, errorf("%s contains %v", what, nd)
	}
	return nil, err
}

// marshal is the JSON of v for toJSON (indented) and #toJson. Its length
// is checked before it is built — escapes make a string up to six times
// longer, and indentation a deeply nested value hundreds of times — and
// the copy and the JSON are charged to the memory budget.
func (r *run) marshal(v any, name string, indent bool) (string, error) {
	data, err := r.toData(v, "the argument of "+name)
	if err != nil {
		return "", err
	}
	return r.encode(data, "the JSON built by "+name, indent)
}

// format is format(v) for normalised data, with the JSON of a list or map
// checked and charged as marshal does.
func (r *run) format(v any, what string) (string, error) {
	switch v.(type) {
	case []any, map[string]any:
		return r.encode(v, what+" as JSON", false)
	}
	return format(v), nil
}

// fitsAsJSON checks that the JSON of normalised data would be within the
// size limit: toData counts a string's bytes, but escapes can make its JSON
// six times longer.
func (r *run) fitsAsJSON(data any, what string) error {
	n, err := r.jsonLength(data, false)
	if err != nil {
		return err
	}
	if n > r.maxBytes {
		return r.jsonTooLarge(what, n)
	}
	return nil
}

// jsonLength is at most the length of the JSON of normalised data (see
// jsonSizer), or more than the size limit.
func (r *run) jsonLength(data any, indent bool) (int, error) {
	z := jsonSizer{limit: r.maxBytes, indent: indent, r: r}
	return z.size(data, 0)
}

func (r *run) jsonTooLarge(what string, n int) error {
	return r.stop(&limitError{msg: fmt.Sprintf("%s would be at least %d bytes, over the %d-byte limit", what, n, r.maxBytes), err: ErrTooLarge})
}

func (r *run) encode(data any, what string, indent bool) (string, error) {
	size, err := r.jsonLength(data, indent)
	if err != nil {
		return "", err
	}
	if size > r.maxBytes {
		return "", r.jsonTooLarge(what, size)
	}
	// The encoder's buffer, grown by doubling, and the string copied from it.
	if err := r.alloc(3*size, what); err != nil {
		return "", err
	}
	s, err := marshal(data, indent)
	if err != nil {
		return "", errorf("%s: %v", what, err)
	}
	if len(s) > r.maxBytes {
		return "", r.tooLarge(what, len(s))
	}
	return s, nil
}

// jsonSizer measures the JSON of normalised data as marshal writes it,
// but counting a float as one byte: a lower bound. It stops counting once
// past limit, and passes checkpoints as it goes.
type jsonSizer struct {
	limit  int
	indent bool
	r      *run
}

func (z *jsonSizer) size(v any, depth int) (int, error) {
	// Indentation adds, for each element of a non-empty list or map, a
	// newline and two spaces per level, as much again before the closing
	// bracket, and a space after each colon.
	lines := func(k int) int {
		if !z.indent || k == 0 {
			return 0
		}
		return k*(1+2*(depth+1)) + 1 + 2*depth
	}
	switch x := v.(type) {
	case nil:
		return 4, nil
	case bool:
		if x {
			return 4, nil
		}
		return 5, nil
	case int:
		return len(strconv.Itoa(x)), nil
	case float64:
		return 1, nil
	case string:
		return jsonStringLen(x), nil
	case []any:
		n := 2 + max(0, len(x)-1) + lines(len(x))
		for _, e := range x {
			k, err := z.element(e, depth)
			if err != nil {
				return 0, err
			}
			if n += k; n > z.limit {
				return n, nil
			}
		}
		return n, nil
	case map[string]any:
		n := 2 + max(0, len(x)-1) + lines(len(x))
		for key, e := range x {
			k, err := z.element(e, depth)
			if err != nil {
				return 0, err
			}
			n += jsonStringLen(key) + 1 + k
			if z.indent {
				n++
			}
			if n > z.limit {
				return n, nil
			}
		}
		return n, nil
	}
	return 0, nil
}

func (z *jsonSizer) element(e any, depth int) (int, error) {
	if err := z.r.step(); err != nil {
		return 0, err
	}
	return z.size(e, depth+1)
}

// jsonStringLen is the length of s as a JSON string, as encoding/json
// writes it without HTML escaping.
func jsonStringLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '\\' || b == '"' || b == '\b' || b == '\f' || b == '\n' || b == '\r' || b == '\t':
				n += 2
			case b < 0x20:
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1, c == '\u2028', c == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

// Reading JSON. Decoding allocates far more than its input — each number
// and each element of a list is boxed, each object is a map — so a JSON
// document of up to directJSONBytes is decoded at once, with an estimate of
// its memory charged before, and a longer one token by token, charging
// each value as it is built and passing checkpoints.
const directJSONBytes = 64 << 10

// readJSON decodes s as encoding/json decodes into an any.
func (r *run) readJSON(s, name string) (any, error) {
	if err := r.alloc(len(s), "the JSON read by ", name); err != nil {
		return nil, err
	}
	b := []byte(s)
	if len(s) <= directJSONBytes {
		if err := r.alloc(jsonCost(b), "the value read by ", name); err != nil {
			return nil, err
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, errorf("%s: not valid JSON: %v", name, err)
		}
		return v, nil
	}
	d := &jsonReader{dec: json.NewDecoder(bytes.NewReader(b)), r: r, name: name}
	v, err := d.value()
	if err == nil {
		if _, err = d.dec.Token(); err == io.EOF {
			return v, nil
		}
		if err == nil {
			err = errors.New("more than one value")
		}
	}
	var le *limitError
	if errors.As(err, &le) {
		return nil, err
	}
	// Report a syntax error as json.Unmarshal does, which checks the
	// syntax of the whole input before it decodes anything.
	if serr := json.Unmarshal(b, new(json.RawMessage)); serr != nil {
		err = serr
	}
	return nil, errorf("%s: not valid JSON: %v", name, err)
}

// jsonCost bounds the memory json.Unmarshal takes to decode b into an
// any: the strings, a boxed value for every element, a slot in its list
// (which grows by doubling) and a map for every object.
func jsonCost(b []byte) int {
	n := 3 * len(b)
	str := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case str && c == '\\':
			i++
		case c == '"':
			str = !str
		case str:
		case c == ',' || c == ':' || c == '[':
			n += 64
		case c == '{':
			n += 384
		}
	}
	return n
}

// jsonReader decodes a value token by token.
type jsonReader struct {
	dec    *json.Decoder
	r      *run
	name   string
	tokens int
}

// token reads the next token, charging what the decoder allocates for it
// (it decodes each scalar on its own, into a fresh any: about 100 bytes).
func (d *jsonReader) token() (json.Token, error) {
	if d.tokens++; d.tokens%1024 == 0 {
		if err := d.r.tick(); err != nil {
			return nil, err
		}
	}
	if err := d.r.alloc(128, "the value read by ", d.name); err != nil {
		return nil, err
	}
	return d.dec.Token()
}

func (d *jsonReader) value() (any, error) {
	t, err := d.token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case json.Delim:
		switch t {
		case '[':
			l := []any{}
			for d.dec.More() {
				v, err := d.value()
				if err != nil {
					return nil, err
				}
				if err := d.r.alloc(32, "the value read by ", d.name); err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := d.token() // ]
			return l, err
		case '{':
			if err := d.r.alloc(48, "the value read by ", d.name); err != nil {
				return nil, err
			}
			m := map[string]any{}
			for d.dec.More() {
				k, err := d.token()
				if err != nil {
					return nil, err
				}
				key, _ := k.(string)
				v, err := d.value()
				if err != nil {
					return nil, err
				}
				if err := d.r.alloc(64+len(key), "the value read by ", d.name); err != nil {
					return nil, err
				}
				m[key] = v
			}
			_, err := d.token() // }
			return m, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case string:
		return t, d.r.alloc(16+len(t), "the value read by ", d.name)
	}
	return t, d.r.alloc(16, "the value read by ", d.name)
}

// marshal writes normalised data as compact JSON without HTML escaping (as
// Jackson does), or indented when indent is set.
func marshal(v any, indent bool) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}

// format renders normalised data for string interpolation: strings as is,
// integral numbers without ".0", null as "null", lists and maps as JSON.
func format(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case float64:
		return formatFloat(x)
	}
	s, err := marshal(v, false)
	if err != nil {
		return fmt.Sprint(v)
	}
	return s
}

func formatFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// kind names the type of a value the way an expression author thinks of it.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, json.Number:
		return "a number"
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map:
		return "a map"
	}
	return fmt.Sprintf("a %T", v)
}

// quoteList renders names as "a", "b", "c", with at most max entries.
func quoteList(names []string, max int) string {
	var b bytes.Buffer
	for i, n := range names {
		if i == max {
			fmt.Fprintf(&b, ", … (%d more)", len(names)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(n))
	}
	return b.String()
}
