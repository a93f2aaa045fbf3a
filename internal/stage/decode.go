package stage

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
)

// A Spec is a stage type's fields as a struct. Validate checks a
// document's stage with it when a pipeline is saved, and each task run
// decodes its context into a fresh one (Decode) and reads typed values
// from it, instead of reading the context's map key by key.
//
// Its fields are field types (StringField, IntField, …, or a stage's own
// FieldType), each tagged with the key it reads and, optionally, a hint
// that messages about it end with:
//
//	MemorySize stage.IntField `json:"memorySize" hint:"MB"`
//
// A struct field that embeds Field is a nested object ("tracingConfig":
// {"mode": …}) whose fields are tagged the same way, and a ListField of
// such structs is a list of objects. An embedded struct without a tag
// lends its fields to the stage's own, as in encoding/json, so stage types
// share groups of fields. Keys the Spec does not name are left alone: the
// document keeps them.
type Spec interface {
	// Check reports what the field types cannot: required fields, ranges,
	// patterns, fields that go together. It runs after decoding, when a
	// pipeline is saved and when a task runs. It must leave alone fields
	// that are not Set (a value Validate leaves as an expression, a value
	// Decode already reported); the Checker's helpers do.
	Check(c *Checker)
}

// Validate decodes a stage's fields as the document writes them into spec
// and checks them: what Type.Validate returns. A value holding a ${…}
// expression is left alone — its field reports Expr — since its type is
// known only once the engine evaluates it.
func Validate(fields map[string]any, spec Spec) []FieldError {
	return decode(fields, spec, false)
}

// Decode decodes a task's fields (its stage's context, expressions
// evaluated) into spec and checks them. The error, a FieldErrors, names
// every problem; a task fails with its text.
func Decode(fields map[string]any, spec Spec) error {
	if errs := decode(fields, spec, true); len(errs) > 0 {
		return FieldErrors(errs)
	}
	return nil
}

// FieldErrors is every problem found in a stage's fields, as one error:
// "memorySize: must be at least 128, not 64 (MB); timeout: …".
type FieldErrors []FieldError

func (e FieldErrors) Error() string {
	msgs := make([]string, len(e))
	for i, fe := range e {
		msgs[i] = fe.Error()
	}
	return strings.Join(msgs, "; ")
}

// decode fills spec from fields and runs its Check. Before evaluation,
// values holding expressions are left alone. A spec that is not a pointer
// to a struct, or a field of a type Decode cannot fill, is a programmer
// error and panics.
func decode(fields map[string]any, spec Spec, evaluated bool) []FieldError {
	rv := reflect.ValueOf(spec)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("stage: a Spec must be a pointer to a struct, not %T", spec))
	}
	d := &decoder{evaluated: evaluated}
	if evaluated {
		d.failed = failedExpressions(fields)
	}
	d.object(fields, rv.Elem(), "", absent)
	c := &Checker{}
	spec.Check(c)
	errs := append(d.errs, c.errs...)
	slices.SortStableFunc(errs, func(a, b FieldError) int { return comparePaths(a.Field, b.Field) })
	return errs
}

type decoder struct {
	evaluated bool
	errs      []FieldError
	// failed maps each expression the engine could not evaluate to its
	// error, from the context's expressionEvaluationSummary.
	failed map[string]string
}

// failedExpressions reads the engine's expressionEvaluationSummary, which
// maps each expression it left in place to a list of
// {"description": why}, as a map from expression to why.
func failedExpressions(fields map[string]any) map[string]string {
	summary, _ := fields["expressionEvaluationSummary"].(map[string]any)
	if len(summary) == 0 {
		return nil
	}
	out := map[string]string{}
	for expression, v := range summary {
		list, _ := v.([]any)
		for _, f := range list {
			m, _ := f.(map[string]any)
			if why, _ := m["description"].(string); why != "" {
				out[expression] = why
				break
			}
		}
	}
	return out
}

// expressionError is the error of the first expression in v the engine
// could not evaluate: a field that still holds one is wrong because of
// it, not because of its type.
func (d *decoder) expressionError(v any) error {
	text, ok := v.(string)
	if !ok || len(d.failed) == 0 {
		return nil
	}
	exprs := slices.Sorted(maps.Keys(d.failed))
	for _, e := range exprs {
		if strings.Contains(text, e) {
			return fmt.Errorf("expression %s failed: %s", e, d.failed[e])
		}
	}
	return nil
}

// lister is a ListField.
type lister interface {
	Fielder
	items(n int) reflect.Value
}

func (l *ListField[T]) items(n int) reflect.Value {
	l.Items = make([]T, n)
	return reflect.ValueOf(l.Items)
}

var fieldType = reflect.TypeFor[Field]()

// object fills the struct sv from the object fields. When the object is
// not there to read (absent, null, an expression, not an object), fields
// is nil, so that its fields still learn their paths, and each takes the
// state unread: absent, or the object's own state — a field of an object
// Validate left as an expression is not missing.
func (d *decoder) object(fields map[string]any, sv reflect.Value, prefix string, unread fieldState) {
	st := sv.Type()
	for i := range st.NumField() {
		sf := st.Field(i)
		tag, tagged := sf.Tag.Lookup("json")
		key, _, _ := strings.Cut(tag, ",")
		switch {
		case sf.Type == fieldType:
			// The object's own state, which its parent sets.
		case sf.Anonymous && !tagged && sf.Type.Kind() == reflect.Struct:
			d.object(fields, sv.Field(i), prefix, unread)
		case !sf.IsExported() || key == "" || key == "-":
		default:
			v, present := fields[key]
			d.value(v, present, sv.Field(i), joinPath(prefix, key), sf.Tag.Get("hint"), unread)
		}
	}
}

// value fills fv, the field at path, from v; when v is not present the
// field's state is unread.
func (d *decoder) value(v any, present bool, fv reflect.Value, path, hint string, unread fieldState) {
	target := fv.Addr().Interface()
	f := &Field{}
	if fr, ok := target.(Fielder); ok {
		f = fr.field()
	}
	f.path, f.hint = path, hint
	_, isLeaf := target.(FieldType)
	list, isList := target.(lister)
	isObject := !isLeaf && !isList && fv.Kind() == reflect.Struct
	if !isLeaf && !isList && !isObject {
		panic(fmt.Sprintf("stage: field %s is a %s, which Decode cannot fill: use a field type", path, fv.Type()))
	}

	switch {
	case !present:
		f.state = unread
	case v == nil:
		f.state = null
	case !d.evaluated && (isLeaf && ContainsExpression(v) || HasExpression(v)):
		f.state = expr
	case isLeaf:
		if err := target.(FieldType).DecodeField(v); err != nil {
			f.state = invalid
			if xerr := d.expressionError(v); xerr != nil {
				err, hint = xerr, ""
			}
			d.fail(path, hint, err)
			return
		}
		f.state = set
		return
	case isList:
		items, ok := v.([]any)
		if !ok {
			f.state = invalid
			d.fail(path, hint, fmt.Errorf("must be a list, not %s", JSONKind(v)))
			return
		}
		f.state = set
		elems := list.items(len(items))
		for i, e := range items {
			d.value(e, true, elems.Index(i), fmt.Sprintf("%s[%d]", path, i), hint, absent)
		}
		return
	default:
		m, ok := v.(map[string]any)
		if !ok {
			f.state = invalid
			d.fail(path, hint, fmt.Errorf("must be an object, not %s", JSONKind(v)))
			break
		}
		f.state = set
		d.object(m, fv, path, absent)
		return
	}
	if isObject {
		unread := absent
		if f.state == expr || f.state == invalid {
			unread = f.state
		}
		d.object(nil, fv, path, unread)
	}
}

// fail records err, a problem with the field at path, or with places
// inside it when it is a FieldErrors or FieldError.
func (d *decoder) fail(path, hint string, err error) {
	var many FieldErrors
	var one FieldError
	switch {
	case errors.As(err, &many):
		for _, e := range many {
			d.errs = append(d.errs, FieldError{Field: joinPath(path, e.Field), Msg: withHint(e.Msg, hint)})
		}
	case errors.As(err, &one):
		d.errs = append(d.errs, FieldError{Field: joinPath(path, one.Field), Msg: withHint(one.Msg, hint)})
	default:
		d.errs = append(d.errs, FieldError{Field: path, Msg: withHint(err.Error(), hint)})
	}
}

// joinPath appends rel, a path inside the field at path ("key", "[2]",
// "[2].value"), to path.
func joinPath(path, rel string) string {
	switch {
	case rel == "":
		return path
	case path == "":
		return strings.TrimPrefix(rel, ".")
	case strings.HasPrefix(rel, "["), strings.HasPrefix(rel, "."):
		return path + rel
	}
	return path + "." + rel
}

func withHint(msg, hint string) string {
	if hint == "" {
		return msg
	}
	return msg + " (" + hint + ")"
}

// comparePaths orders field paths as a person reads them: "a[2]" before
// "a[10]".
func comparePaths(a, b string) int {
	for a != "" && b != "" {
		da, db := leadingDigits(a), leadingDigits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func leadingDigits(s string) int {
	n := 0
	for n < len(s) && '0' <= s[n] && s[n] <= '9' {
		n++
	}
	return n
}

// A Checker collects what a Spec's Check finds, each problem at its
// field's path. The helpers (Required, Range, OneOf, …) look only at
// fields that are Set (Required at fields that are Missing), so they never
// report a value Validate left as an expression or one Decode reported;
// and they report one problem per field: none about a field that already
// has one.
type Checker struct {
	errs     []FieldError
	reported map[string]bool // paths with a problem
}

// Errorf reports a problem with field f, in the words of format.
func (c *Checker) Errorf(f Fielder, format string, args ...any) {
	c.Add(FieldError{Field: f.field().path, Msg: fmt.Sprintf(format, args...)})
}

// Add reports problems found some other way, such as at places inside a
// JSONField (its Path joined with the place).
func (c *Checker) Add(errs ...FieldError) {
	for _, e := range errs {
		if c.reported == nil {
			c.reported = map[string]bool{}
		}
		c.reported[e.Field] = true
		c.errs = append(c.errs, e)
	}
}

// problem reports a problem with f, ending with f's hint, unless f has
// one already.
func (c *Checker) problem(f *Field, format string, args ...any) {
	if !c.reported[f.path] {
		c.Add(FieldError{Field: f.path, Msg: withHint(fmt.Sprintf(format, args...), f.hint)})
	}
}

// Required reports field f when the stage leaves it out or sets it to
// null, and a string field when it is only blanks.
func (c *Checker) Required(f Fielder) {
	fl := f.field()
	switch {
	case fl.Missing():
		c.problem(fl, "is required")
	case fl.Set():
		if b, ok := f.(interface{ blank() bool }); ok && b.blank() {
			c.problem(fl, "is required and must not be empty")
		}
	}
}

func (s *StringField) blank() bool     { return strings.TrimSpace(s.Value) == "" }
func (s *WeakStringField) blank() bool { return strings.TrimSpace(s.Value) == "" }

// Range reports f when it is below lo or above hi.
func (c *Checker) Range(f *IntField, lo, hi int64) {
	switch {
	case !f.Set():
	case f.Value < lo:
		c.problem(&f.Field, "must be at least %d, not %d", lo, f.Value)
	case f.Value > hi:
		c.problem(&f.Field, "must be at most %d, not %d", hi, f.Value)
	}
}

// AtLeast reports f when it is below lo.
func (c *Checker) AtLeast(f *IntField, lo int64) { c.Range(f, lo, math.MaxInt64) }

// OneOf reports f when it is neither empty nor one of values (compared
// case-sensitively).
func (c *Checker) OneOf(f *StringField, values ...string) {
	if f.Set() && f.Value != "" && !slices.Contains(values, f.Value) {
		c.problem(&f.Field, "must be one of %s, not %q", strings.Join(values, ", "), f.Value)
	}
}

// Valid reports f when it is not empty and valid says it is not valid
// (a regexp's MatchString, awsid.ValidRegion).
func (c *Checker) Valid(f *StringField, valid func(string) bool) {
	if f.Set() && f.Value != "" && !valid(f.Value) {
		c.problem(&f.Field, "%q is not valid", f.Value)
	}
}
