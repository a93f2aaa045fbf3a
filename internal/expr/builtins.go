package expr

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr/vm/runtime"
)

// tickFn returns its argument; calling it is what checks the deadline.
func tickFn(r *run, args []any) (any, error) {
	if len(args) != 1 {
		return nil, errorf("$tick takes one argument")
	}
	return args[0], nil
}

// argsFn returns the result of a builtin called with many arguments
// (args[1]), charging the slice expr allocated for them (see function.call).
func argsFn(r *run, args []any) (any, error) {
	if len(args) != 2 {
		return nil, errorf("$args takes two arguments")
	}
	n, _ := args[0].(int)
	if err := r.callCost(16 * n); err != nil {
		return nil, err
	}
	return args[1], nil
}

// chargeFn returns the result of a builtin (args[1]) that has built it
// (see allocating), charging its size to the memory budget.
func chargeFn(r *run, args []any) (any, error) {
	if len(args) != 2 {
		return nil, errorf("$charge takes two arguments")
	}
	name, _ := args[0].(string)
	if err := r.alloc(sizeOf(args[1]), "the result of ", name); err != nil {
		return nil, err
	}
	return args[1], nil
}

// sizeOf is about the memory a freshly built string, list or map takes,
// not counting what its elements share with other values.
func sizeOf(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case []any:
		return 16 * len(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice:
		return rv.Len() * int(rv.Type().Elem().Size())
	case reflect.Map:
		n := 64 * rv.Len()
		for it := rv.MapRange(); it.Next(); {
			n += sizeOf(it.Value().Interface()) // groupBy's lists
		}
		return n
	}
	return 0
}

// nonEmptyFn is the test of SpEL's elvis operator: neither null nor "".
func nonEmptyFn(r *run, args []any) (any, error) {
	if len(args) != 1 {
		return nil, errorf("$nonEmpty takes one argument")
	}
	return args[0] != nil && args[0] != "", nil
}

// addFn is +. As in SpEL, a string on either side makes it concatenation
// (null reads "null", numbers print without ".0" when whole, lists and maps
// as JSON); otherwise both sides must be numbers.
func addFn(r *run, args []any) (any, error) {
	if len(args) != 2 {
		return nil, errorf("$add takes two arguments")
	}
	a, b := args[0], args[1]
	as, aStr := a.(string)
	bs, bStr := b.(string)
	switch {
	case aStr && bStr:
		n := len(as) + len(bs)
		if n > r.maxBytes {
			return nil, r.tooLarge("the string built by +", n)
		}
		if err := r.alloc(n, "the string built by +"); err != nil {
			return nil, err
		}
		return as + bs, nil
	case aStr || bStr:
		other := b
		if bStr {
			other = a
		}
		v, err := r.toData(other, "the value added to a string")
		if err != nil {
			return nil, err
		}
		o, err := r.format(v, "the value added to a string")
		if err != nil {
			return nil, err
		}
		n := len(as) + len(bs) + len(o)
		if n > r.maxBytes {
			return nil, r.tooLarge("the string built by +", n)
		}
		if err := r.alloc(n, "the string built by +"); err != nil {
			return nil, err
		}
		if aStr {
			return as + o, nil
		}
		return o + bs, nil
	case isNumber(a) && isNumber(b):
		return arith("+", a, b)
	}
	return nil, errorf("cannot add %s and %s", kind(a), kind(b))
}

func isNumber(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return true
	}
	return false
}

// matchesFn is SpEL's matches: the whole string must match the regular
// expression (Java's String.matches), not just a part of it. A null
// string does not match.
func matchesFn(r *run, args []any) (any, error) {
	if len(args) != 2 {
		return nil, errorf("matches takes two operands")
	}
	if args[0] == nil {
		return false, nil
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, errorf("matches needs a string on its left, got %s", kind(args[0]))
	}
	pattern, ok := args[1].(string)
	if !ok {
		return nil, errorf("matches needs a regular expression string on its right, got %s", kind(args[1]))
	}
	p, err := r.regexp(pattern, true)
	if err != nil {
		return nil, err
	}
	return r.match(p, s)
}

// asInt reads a whole number argument.
func asInt(name string, v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
			return int(x), nil
		}
		return 0, errorf("%s expects a whole number, got %s", name, formatFloat(x))
	}
	if isNumber(v) {
		return runtime.ToInt(v), nil
	}
	return 0, errorf("%s expects a whole number, got %s", name, kind(v))
}

func asString(name string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", errorf("%s expects a string, got %s", name, kind(v))
	}
	return s, nil
}

// list reads a list argument of any slice type.
func list(name string, v any) (reflect.Value, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return reflect.Value{}, errorf("%s expects a list, got %s", name, kind(v))
	}
	return rv, nil
}

func repeatFn(r *run, args []any) (any, error) {
	if len(args) != 2 {
		return nil, errorf("repeat takes two arguments (a string and a count), got %d", len(args))
	}
	s, err := asString("repeat", args[0])
	if err != nil {
		return nil, err
	}
	n, err := asInt("repeat", args[1])
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, errorf("repeat count must not be negative, got %d", n)
	}
	if len(s) > 0 && n > r.maxBytes/len(s) {
		return nil, r.stop(&limitError{
			msg: fmt.Sprintf("repeat would build a string of %d × %d bytes, over the %d-byte limit", n, len(s), r.maxBytes),
			err: ErrTooLarge,
		})
	}
	if err := r.alloc(n*len(s), "the string built by repeat"); err != nil {
		return nil, err
	}
	return strings.Repeat(s, n), nil
}

func joinFn(r *run, args []any) (any, error) {
	if len(args) != 1 && len(args) != 2 {
		return nil, errorf("join takes a list and an optional separator, got %d arguments", len(args))
	}
	l, err := list("join", args[0])
	if err != nil {
		return nil, err
	}
	sep := ""
	if len(args) == 2 {
		if sep, err = asString("join", args[1]); err != nil {
			return nil, err
		}
	}
	if err := r.alloc(16*l.Len(), "the list of strings join copies"); err != nil {
		return nil, err
	}
	parts := make([]string, l.Len())
	size := 0
	for i := range parts {
		if err := r.every(i); err != nil {
			return nil, err
		}
		e := l.Index(i).Interface()
		s, ok := e.(string)
		if !ok {
			return nil, errorf("join needs a list of strings, but element %d is %s", i, kind(e))
		}
		parts[i] = s
		size += len(s) + len(sep)
		if size > r.maxBytes {
			return nil, r.tooLarge("the string built by join", size)
		}
	}
	if err := r.alloc(size, "the string built by join"); err != nil {
		return nil, err
	}
	return strings.Join(parts, sep), nil
}

func replaceFn(r *run, args []any) (any, error) {
	if len(args) != 3 && len(args) != 4 {
		return nil, errorf("replace takes a string, the text to replace, its replacement and an optional count, got %d arguments", len(args))
	}
	var s [3]string
	for i := range s {
		v, err := asString("replace", args[i])
		if err != nil {
			return nil, err
		}
		s[i] = v
	}
	n := -1
	if len(args) == 4 {
		var err error
		if n, err = asInt("replace", args[3]); err != nil {
			return nil, err
		}
	}
	return r.replace(s[0], s[1], s[2], n)
}

// replace is strings.Replace with the result's size checked first.
func (r *run) replace(s, old, new string, n int) (any, error) {
	count := strings.Count(s, old)
	if old == "" {
		count = utf8.RuneCountInString(s) + 1
	}
	if n >= 0 && n < count {
		count = n
	}
	size := len(s) + count*(len(new)-len(old))
	if size > r.maxBytes {
		return nil, r.tooLarge("the string built by replace", size)
	}
	if err := r.alloc(size, "the string built by replace"); err != nil {
		return nil, err
	}
	return strings.Replace(s, old, new, n), nil
}

func concatFn(r *run, args []any) (any, error) {
	if len(args) == 0 {
		return nil, errorf("concat takes one or more lists")
	}
	total := 0
	for _, a := range args {
		l, err := list("concat", a)
		if err != nil {
			return nil, err
		}
		total += l.Len()
	}
	if total > maxElements {
		return nil, r.tooManyElements("concat", total)
	}
	if err := r.alloc(16*total, "the list built by concat"); err != nil {
		return nil, err
	}
	out := make([]any, 0, total)
	for _, a := range args {
		l := reflect.ValueOf(a)
		for i := 0; i < l.Len(); i++ {
			out = append(out, l.Index(i).Interface())
		}
	}
	return out, nil
}

func (r *run) tooManyElements(what string, n int) error {
	return r.stop(&limitError{
		msg: fmt.Sprintf("%s would build a list of %d elements, over the limit of %d", what, n, maxElements),
		err: ErrTooLarge,
	})
}

func flattenFn(r *run, args []any) (any, error) {
	if len(args) != 1 {
		return nil, errorf("flatten takes one list, got %d arguments", len(args))
	}
	l, err := list("flatten", args[0])
	if err != nil {
		return nil, err
	}
	n, err := r.flatCount(l, 0, 0)
	if err != nil {
		return nil, err
	}
	if err := r.alloc(16*n, "the list built by flatten"); err != nil {
		return nil, err
	}
	out := make([]any, 0, n)
	return flattenInto(out, l), nil
}

// flatCount counts the elements flatten would produce, giving up at the limit.
func (r *run) flatCount(l reflect.Value, n, depth int) (int, error) {
	if depth > maxDepth {
		return 0, r.stop(&limitError{msg: fmt.Sprintf("flatten: the list nests more than %d levels deep", maxDepth), err: ErrTooLarge})
	}
	for i := 0; i < l.Len(); i++ {
		if err := r.every(i); err != nil {
			return 0, err
		}
		e := reflect.ValueOf(l.Index(i).Interface())
		if e.Kind() == reflect.Slice || e.Kind() == reflect.Array {
			var err error
			if n, err = r.flatCount(e, n, depth+1); err != nil {
				return 0, err
			}
			continue
		}
		if n++; n > maxElements {
			return 0, r.tooManyElements("flatten", n)
		}
	}
	return n, nil
}

func flattenInto(out []any, l reflect.Value) []any {
	for i := 0; i < l.Len(); i++ {
		e := l.Index(i).Interface()
		if ev := reflect.ValueOf(e); ev.Kind() == reflect.Slice || ev.Kind() == reflect.Array {
			out = flattenInto(out, ev)
			continue
		}
		out = append(out, e)
	}
	return out
}

// uniqFn keeps the first of equal elements in order, in linear time for
// scalars (expr's own uniq is quadratic).
func uniqFn(r *run, args []any) (any, error) {
	if len(args) != 1 {
		return nil, errorf("uniq takes one list, got %d arguments", len(args))
	}
	l, err := list("uniq", args[0])
	if err != nil {
		return nil, err
	}
	// The output and the set of scalars seen, at most one entry each per element.
	if err := r.alloc(80*l.Len(), "the list built by uniq"); err != nil {
		return nil, err
	}
	seen := make(map[any]bool)
	var others []any
	out := []any{}
	for i := 0; i < l.Len(); i++ {
		if err := r.every(i); err != nil {
			return nil, err
		}
		e := l.Index(i).Interface()
		if k, ok := scalarKey(e); ok {
			if !seen[k] {
				seen[k] = true
				out = append(out, e)
			}
			continue
		}
		dup := false
		for j, o := range others {
			if err := r.every(j); err != nil {
				return nil, err
			}
			if runtime.Equal(e, o) {
				dup = true
				break
			}
		}
		if !dup {
			others = append(others, e)
			out = append(out, e)
		}
	}
	return out, nil
}

// scalarKey is a map key under which equal scalars (1 and 1.0 included)
// collide, as they do under expr's ==.
func scalarKey(v any) (any, bool) {
	switch x := v.(type) {
	case nil, string, bool:
		return x, true
	}
	if isNumber(v) {
		return runtime.ToFloat64(v), true
	}
	return nil, false
}

// toJSONIndentFn is expr's toJSON (indented), size-checked.
func toJSONIndentFn(r *run, args []any) (any, error) {
	if len(args) != 1 {
		return nil, errorf("toJSON takes one argument, got %d", len(args))
	}
	return r.marshal(args[0], "toJSON", true)
}

// stringFn is expr's string(x), size-checked: strings unchanged, numbers and
// booleans printed, lists and maps as JSON.
func stringFn(r *run, args []any) (any, error) {
	if len(args) != 1 {
		return nil, errorf("string takes one argument, got %d", len(args))
	}
	if s, ok := args[0].(string); ok {
		return s, nil
	}
	v, err := r.toData(args[0], "the argument of string")
	if err != nil {
		return nil, err
	}
	s, err := r.format(v, "the argument of string")
	if err != nil {
		return nil, err
	}
	if len(s) > r.maxBytes {
		return nil, r.tooLarge("the string built by string", len(s))
	}
	return s, nil
}

// splitFn is expr's split(s, sep[, n]) (or splitAfter), with the pieces
// counted before they are cut.
func splitFn(after bool) function {
	name := "split"
	if after {
		name = "splitAfter"
	}
	return func(r *run, args []any) (any, error) {
		if len(args) != 2 && len(args) != 3 {
			return nil, errorf("%s takes a string, a separator and an optional count, got %d arguments", name, len(args))
		}
		s, err := asString(name, args[0])
		if err != nil {
			return nil, err
		}
		sep, err := asString(name, args[1])
		if err != nil {
			return nil, err
		}
		n := -1
		if len(args) == 3 {
			if n, err = asInt(name, args[2]); err != nil {
				return nil, err
			}
		}
		pieces := strings.Count(s, sep) + 1
		if sep == "" {
			pieces = utf8.RuneCountInString(s) // one piece per character
		}
		if n >= 0 && n < pieces {
			pieces = n
		}
		if pieces > maxElements {
			return nil, r.tooManyElements(name, pieces)
		}
		if err := r.alloc(16*pieces, "the list built by ", name); err != nil {
			return nil, err
		}
		if after {
			return strings.SplitAfterN(s, sep, n), nil
		}
		return strings.SplitN(s, sep, n), nil
	}
}

// sortFn is expr's sort(list[, order]): a sorted copy, with the same
// algorithm and so the same order of equal elements, which passes
// checkpoints while it sorts.
func sortFn(r *run, args []any) (any, error) {
	if len(args) != 1 && len(args) != 2 {
		return nil, errorf("sort takes a list and an optional order, got %d arguments", len(args))
	}
	var array []any
	switch in := args[0].(type) {
	case []any, []int, []float64, []string:
		l := reflect.ValueOf(in)
		if l.Len() > maxElements {
			return nil, r.tooManyElements("sort", l.Len())
		}
		if err := r.alloc(16*l.Len(), "the list built by sort"); err != nil {
			return nil, err
		}
		array = make([]any, l.Len())
		for i := range array {
			array[i] = l.Index(i).Interface()
		}
	default:
		if _, err := list("sort", args[0]); err != nil {
			return nil, err
		}
	}
	desc, err := sortOrder("sort", args[1:])
	if err != nil {
		return nil, err
	}
	s := &runtime.Sort{Desc: desc, Array: array}
	if err := r.sort(s); err != nil {
		return nil, err
	}
	return s.Array, nil
}

// sortByFn is sortBy(list, key[, order]), compiled as $sortBy(list,
// map(list, key), order): sorts list by the keys as expr's sortBy does.
func sortByFn(r *run, args []any) (any, error) {
	if len(args) != 3 {
		return nil, errorf("sortBy takes a list, a key and an optional order")
	}
	l, err := list("sortBy", args[0])
	if err != nil {
		return nil, err
	}
	keys, ok := args[1].([]any)
	if !ok || len(keys) != l.Len() {
		return nil, errorf("internal error: sortBy's keys do not match its list")
	}
	if err := r.alloc(32*l.Len(), "the list built by sortBy"); err != nil {
		return nil, err
	}
	desc, err := sortOrder("sortBy", args[2:])
	if err != nil {
		return nil, err
	}
	s := &runtime.SortBy{Desc: desc, Array: make([]any, l.Len()), Values: make([]any, l.Len())}
	for i := range s.Array {
		s.Array[i] = l.Index(i).Interface()
	}
	copy(s.Values, keys)
	if err := r.sort(s); err != nil {
		return nil, err
	}
	return s.Array, nil
}

// sortOrder reads the optional order argument of sort and sortBy.
func sortOrder(name string, args []any) (desc bool, err error) {
	if len(args) == 0 {
		return false, nil
	}
	order, ok := args[0].(string)
	if !ok {
		return false, errorf("%s order argument must be a string (got %s)", name, kind(args[0]))
	}
	switch order {
	case "asc":
		return false, nil
	case "desc":
		return true, nil
	}
	return false, errorf("invalid order %s, expected asc or desc", order)
}

// sort runs sort.Sort, passing a checkpoint every 1024 comparisons.
func (r *run) sort(data sort.Interface) (err error) {
	defer func() {
		if p := recover(); p != nil {
			stop, ok := p.(sortStopped)
			if !ok {
				panic(p) // expr's comparison error, reported as before
			}
			err = stop.err
		}
	}()
	sort.Sort(&checkedSort{Interface: data, r: r})
	return nil
}

type checkedSort struct {
	sort.Interface
	r *run
	n int
}

type sortStopped struct{ err error }

func (c *checkedSort) Less(i, j int) bool {
	if c.n++; c.n%1024 == 0 {
		if err := c.r.tick(); err != nil {
			panic(sortStopped{err})
		}
	}
	return c.Interface.Less(i, j)
}

// fromJSONFn is expr's fromJSON, with the memory of what it builds charged
// as it is built.
func fromJSONFn(r *run, args []any) (any, error) {
	if len(args) != 1 {
		return nil, errorf("fromJSON takes one argument (a JSON string), got %d", len(args))
	}
	s, err := asString("fromJSON", args[0])
	if err != nil {
		return nil, err
	}
	v, err := r.readJSON(s, "fromJSON")
	if err != nil {
		return nil, err
	}
	return v, nil
}
