package stage

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The field types of a Spec. Spinnaker documents are loose about JSON
// types — Deck writes "memorySize": "512" and "publish": "true" — so the
// numeric and boolean types are weak, like Caddy's WeakString: they take
// the value or its text. Each embeds Field, which records whether and how
// the stage set the field.

// Field is embedded in every field type. After Decode it says whether the
// stage set the field, and where the field is for messages.
type Field struct {
	state fieldState
	path  string // e.g. "deadLetterConfig.targetArn" or "judgmentInputs[1].value"
	hint  string // the field's hint tag: what it is, added to its messages
}

type fieldState uint8

const (
	absent  fieldState = iota // the stage has no such key
	null                      // the key is there, with null
	expr                      // the value holds a ${…} expression (Validate only)
	invalid                   // the value has the wrong type; Decode reported it
	set                       // the value was decoded
)

// Set reports whether the field holds a decoded value. Checks of a value
// (ranges, patterns) apply only then.
func (f *Field) Set() bool { return f.state == set }

// Missing reports whether the stage leaves the field out or sets it to
// null: what a required field must not be.
func (f *Field) Missing() bool { return f.state == absent || f.state == null }

// Present reports whether the stage has the key at all, null included
// (for fields where an explicit null means "clear").
func (f *Field) Present() bool { return f.state != absent }

// Null reports whether the stage sets the field to null.
func (f *Field) Null() bool { return f.state == null }

// Expr reports whether the value holds a ${…} expression that Validate
// left alone: its type is known only once the engine evaluates it.
func (f *Field) Expr() bool { return f.state == expr }

// Path is where the field is in the stage, for messages: "waitTime",
// "tracingConfig.mode", "variables[2].key".
func (f *Field) Path() string { return f.path }

func (f *Field) field() *Field { return f }

// A Fielder is a field of a Spec: any type that embeds Field (the field
// types below, a nested object's struct).
type Fielder interface{ field() *Field }

// A FieldType decodes its own value: the types below, or a stage's own —
// embed one of them (or Field) and implement DecodeField.
type FieldType interface {
	Fielder
	// DecodeField sets the field from v, its value in the stage: never
	// nil, and never an expression Validate leaves alone. An error says
	// what is wrong with v ("must be a number, not a list"); a FieldErrors
	// names places inside v by relative path ("[2]", "PORT").
	DecodeField(v any) error
}

// StringField is a JSON string.
type StringField struct {
	Field
	Value string
}

func (s *StringField) DecodeField(v any) error {
	x, ok := v.(string)
	if !ok {
		return fmt.Errorf("must be a string, not %s", JSONKind(v))
	}
	s.Value = x
	return nil
}

// WeakStringField is a string, or a number taken as its text (a version
// written 3 or "3"), as Caddy's WeakString takes any scalar. A boolean is
// refused: no field of this type means true or false.
type WeakStringField struct {
	Field
	Value string
}

func (s *WeakStringField) DecodeField(v any) error {
	if x, ok := v.(string); ok {
		s.Value = x
		return nil
	}
	n, ok := numberText(v)
	if !ok {
		return fmt.Errorf("must be a string or a number, not %s", JSONKind(v))
	}
	s.Value = n
	return nil
}

// IntField is a whole number: a JSON number or a numeric string.
type IntField struct {
	Field
	Value int64
}

func (n *IntField) DecodeField(v any) error {
	switch x := v.(type) {
	case int:
		n.Value = int64(x)
		return nil
	case int64:
		n.Value = x
		return nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			n.Value = i
			return nil
		}
	}
	f, err := number(v)
	if err != nil {
		return err
	}
	if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return fmt.Errorf("must be a whole number, not %v", f)
	}
	n.Value = int64(f)
	return nil
}

// NumberField is a number: a JSON number or a numeric string.
type NumberField struct {
	Field
	Value float64
}

func (n *NumberField) DecodeField(v any) (err error) {
	n.Value, err = number(v)
	return err
}

// BoolField is true or false, or its text "true" or "false".
type BoolField struct {
	Field
	Value bool
}

func (b *BoolField) DecodeField(v any) error {
	switch x := v.(type) {
	case bool:
		b.Value = x
		return nil
	case string:
		p, err := strconv.ParseBool(x)
		if err != nil {
			return fmt.Errorf("must be true or false, not %q", x)
		}
		b.Value = p
		return nil
	}
	return fmt.Errorf("must be true or false, not %s", JSONKind(v))
}

// StringsField is a list of strings. One string is a list of its
// comma-separated parts ("aliases": "live,beta"). Items are trimmed and
// empty ones dropped, so "" is an empty list.
type StringsField struct {
	Field
	Value []string
}

func (l *StringsField) DecodeField(v any) error {
	var raw []string
	switch x := v.(type) {
	case string:
		raw = strings.Split(x, ",")
	case []string:
		raw = x
	case []any:
		var errs FieldErrors
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				errs = append(errs, FieldError{Field: fmt.Sprintf("[%d]", i), Msg: "must be a string, not " + JSONKind(e)})
			}
			raw = append(raw, s)
		}
		if len(errs) > 0 {
			return errs
		}
	default:
		return fmt.Errorf("must be a list of strings, not %s", JSONKind(v))
	}
	l.Value = []string{}
	for _, s := range raw {
		if s = strings.TrimSpace(s); s != "" {
			l.Value = append(l.Value, s)
		}
	}
	return nil
}

// StringMapField is an object of names to scalar values, each taken as its
// text (YAML writes PORT: 8080 as a number).
type StringMapField struct {
	Field
	Value map[string]string
}

func (m *StringMapField) DecodeField(v any) error {
	switch x := v.(type) {
	case map[string]string:
		m.Value = x
		return nil
	case map[string]any:
		m.Value = make(map[string]string, len(x))
		var errs FieldErrors
		for _, k := range slices.Sorted(maps.Keys(x)) {
			switch e := x[k].(type) {
			case string:
				m.Value[k] = e
			case bool:
				m.Value[k] = strconv.FormatBool(e)
			default:
				s, ok := numberText(e)
				if !ok {
					errs = append(errs, FieldError{Field: k, Msg: "must be a string, not " + JSONKind(e)})
				}
				m.Value[k] = s
			}
		}
		if len(errs) > 0 {
			return errs
		}
		return nil
	}
	return fmt.Errorf("must be an object of names to values, not %s", JSONKind(v))
}

// JSONField is any JSON value, kept as the document writes it (a payload,
// an artifact): the stage's Check or its tasks read it.
type JSONField struct {
	Field
	Value any
}

func (j *JSONField) DecodeField(v any) error {
	j.Value = v
	return nil
}

// ListField is a list of T, one element per item: T is a struct (a list
// of objects, decoded as a Spec's fields are) or a field type.
type ListField[T any] struct {
	Field
	Items []T
}

// number reads a JSON number or a numeric string.
func number(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return 0, fmt.Errorf("must be a number, not %q", x.String())
		}
		return f, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("must be a number, not %q", x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("must be a number, not %s", JSONKind(v))
}

// numberText is a number's text, without an exponent: 3, 0.5, 8080.
func numberText(v any) (string, bool) {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

// JSONKind names the JSON type of a decoded value for messages: "a
// string", "a number", "an object", …
func JSONKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any, map[string]string:
		return "an object"
	case []any, []string:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, float32, int, int64, json.Number:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// HasExpression reports whether v is a string holding a ${…} expression,
// whose type is only known once it is evaluated.
func HasExpression(v any) bool {
	s, ok := v.(string)
	return ok && strings.Contains(s, "${")
}

// ContainsExpression reports whether v holds a ${…} expression anywhere:
// in itself, or in any value of its lists and objects.
func ContainsExpression(v any) bool {
	switch x := v.(type) {
	case string:
		return HasExpression(x)
	case map[string]any:
		for _, e := range x {
			if ContainsExpression(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if ContainsExpression(e) {
				return true
			}
		}
	}
	return false
}

// Number reads one numeric field without a Spec: JSON numbers and numeric
// strings. ok is false when the field is absent or null.
func Number(fields map[string]any, key string) (n float64, ok bool, err error) {
	var f NumberField
	ok, err = decodeOne(fields, key, &f)
	return f.Value, ok, err
}

// String reads one string field without a Spec; ok is false when it is
// absent or null.
func String(fields map[string]any, key string) (s string, ok bool, err error) {
	var f StringField
	ok, err = decodeOne(fields, key, &f)
	return f.Value, ok, err
}

// Bool reads one boolean field without a Spec (true/false or
// "true"/"false"); ok is false when it is absent or null.
func Bool(fields map[string]any, key string) (b bool, ok bool, err error) {
	var f BoolField
	ok, err = decodeOne(fields, key, &f)
	return f.Value, ok, err
}

func decodeOne(fields map[string]any, key string, f FieldType) (bool, error) {
	v, present := fields[key]
	if !present || v == nil {
		return false, nil
	}
	return true, f.DecodeField(v)
}
