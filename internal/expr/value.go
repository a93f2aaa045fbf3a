package expr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
)

// normalizer copies a value into plain JSON data — nil, bool, int, float64,
// string, []any, map[string]any — counting its approximate JSON size against
// a budget, so a value that shares one big string a million times is caught
// before anything materialises it.
type normalizer struct {
	budget int // bytes left
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
// which limit was hit by what.
func (r *run) toData(v any, what string) (any, error) {
	n := &normalizer{budget: r.maxBytes}
	out, err := n.normalize(v, 0)
	switch err {
	case nil:
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
