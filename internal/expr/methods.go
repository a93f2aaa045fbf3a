package expr

import (
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr/vm/runtime"
)

// method is a Java-style method that Spinnaker expressions call on strings,
// lists and maps (parameters.env.toUpperCase(), list.size(), …). It is a
// plain Go function over data: an expression never calls a method of a Go
// value.
type method func(r *run, recv any, args []any) (any, error)

var methods = map[string]method{
	"toUpperCase":      stringMethod(0, func(s string, _ []any) (any, error) { return strings.ToUpper(s), nil }),
	"toLowerCase":      stringMethod(0, func(s string, _ []any) (any, error) { return strings.ToLower(s), nil }),
	"trim":             stringMethod(0, func(s string, _ []any) (any, error) { return strings.TrimSpace(s), nil }),
	"length":           stringMethod(0, func(s string, _ []any) (any, error) { return utf8.RuneCountInString(s), nil }),
	"startsWith":       stringMethod(1, func(s string, a []any) (any, error) { return strings.HasPrefix(s, a[0].(string)), nil }),
	"endsWith":         stringMethod(1, func(s string, a []any) (any, error) { return strings.HasSuffix(s, a[0].(string)), nil }),
	"equalsIgnoreCase": stringMethod(1, func(s string, a []any) (any, error) { return strings.EqualFold(s, a[0].(string)), nil }),
	"substring":        substringMethod,
	"replace":          replaceMethod,
	"split":            splitMethod,
	"matches":          matchesMethod,
	"contains":         containsMethod,
	"containsKey":      containsKeyMethod,
	"indexOf":          indexOfMethod,
	"size":             sizeMethod,
	"isEmpty":          isEmptyMethod,
	"equals":           equalsMethod,
	"get":              getMethod,
	"toString":         toStringMethod,
}

// methodFn dispatches .name(args) on a receiver: $method(recv, name,
// optional, args...). On a null receiver an optional call (a?.trim())
// yields null, as in SpEL.
func methodFn(r *run, args []any) (any, error) {
	if len(args) < 3 {
		return nil, errorf("$method takes a receiver, a name and a flag")
	}
	name, _ := args[1].(string)
	optional, _ := args[2].(bool)
	m, ok := methods[name]
	if !ok {
		return nil, errorf("method .%s() is not supported", name)
	}
	if args[0] == nil {
		if optional {
			return nil, nil
		}
		return nil, errorf("cannot call .%s() on null; use ?.%s() to get null instead", name, name)
	}
	return m(r, args[0], args[3:])
}

func methodList() string {
	names := make([]string, 0, len(methods))
	for name := range methods {
		names = append(names, "."+name+"()")
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// stringMethod builds a method on a string receiver taking n string arguments.
func stringMethod(n int, fn func(s string, args []any) (any, error)) method {
	return func(r *run, recv any, args []any) (any, error) {
		s, ok := recv.(string)
		if !ok {
			return nil, errorf("this method needs a string, got %s", kind(recv))
		}
		if len(args) != n {
			return nil, errorf("this method takes %d argument(s), got %d", n, len(args))
		}
		for i, a := range args {
			if _, ok := a.(string); !ok {
				return nil, errorf("argument %d must be a string, got %s", i+1, kind(a))
			}
		}
		return fn(s, args)
	}
}

// substringMethod is Java's substring(begin[, end]), in characters.
func substringMethod(r *run, recv any, args []any) (any, error) {
	s, ok := recv.(string)
	if !ok {
		return nil, errorf(".substring() needs a string, got %s", kind(recv))
	}
	if len(args) != 1 && len(args) != 2 {
		return nil, errorf(".substring() takes a begin index and an optional end index")
	}
	runes := []rune(s)
	begin, err := asInt(".substring()", args[0])
	if err != nil {
		return nil, err
	}
	end := len(runes)
	if len(args) == 2 {
		if end, err = asInt(".substring()", args[1]); err != nil {
			return nil, err
		}
	}
	if begin < 0 || end > len(runes) || begin > end {
		return nil, errorf(".substring(%d, %d) is out of range for a string of %d characters", begin, end, len(runes))
	}
	return string(runes[begin:end]), nil
}

// replaceMethod is Java's String.replace: every literal occurrence.
func replaceMethod(r *run, recv any, args []any) (any, error) {
	s, ok := recv.(string)
	if !ok {
		return nil, errorf(".replace() needs a string, got %s", kind(recv))
	}
	if len(args) != 2 {
		return nil, errorf(".replace() takes two arguments (target and replacement)")
	}
	old, err := text(".replace()", args[0])
	if err != nil {
		return nil, err
	}
	repl, err := text(".replace()", args[1])
	if err != nil {
		return nil, err
	}
	return r.replace(s, old, repl, -1)
}

// splitMethod is Java's String.split(regex): trailing empty strings
// dropped. A pattern without metacharacters splits on the literal text.
func splitMethod(r *run, recv any, args []any) (any, error) {
	s, ok := recv.(string)
	if !ok {
		return nil, errorf(".split() needs a string, got %s", kind(recv))
	}
	if len(args) != 1 {
		return nil, errorf(".split() takes one argument (a regular expression)")
	}
	expr, err := asString(".split()", args[0])
	if err != nil {
		return nil, err
	}
	p, err := r.regexp(expr, false)
	if err != nil {
		return nil, err
	}
	var parts []string
	if lit, complete := p.re.LiteralPrefix(); complete && lit != "" {
		if n := strings.Count(s, lit) + 1; n > maxElements {
			return nil, r.tooManyElements(".split()", n)
		}
		parts = strings.Split(s, lit)
	} else {
		if le := p.scan(s); le != nil {
			return nil, r.stop(le)
		}
		if parts = p.re.Split(s, maxElements+1); len(parts) > maxElements {
			return nil, r.tooManyElements(".split()", len(parts))
		}
	}
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if len(s) == 0 {
		parts = []string{""} // Java: "".split(x) is [""]
	}
	out := make([]any, len(parts))
	for i, part := range parts {
		out[i] = part
	}
	return out, nil
}

func matchesMethod(r *run, recv any, args []any) (any, error) {
	if len(args) != 1 {
		return nil, errorf(".matches() takes one argument (a regular expression)")
	}
	return matchesFn(r, []any{recv, args[0]})
}

// containsMethod is String.contains or List.contains.
func containsMethod(r *run, recv any, args []any) (any, error) {
	if len(args) != 1 {
		return nil, errorf(".contains() takes one argument")
	}
	if s, ok := recv.(string); ok {
		sub, err := text(".contains()", args[0])
		if err != nil {
			return nil, err
		}
		return strings.Contains(s, sub), nil
	}
	l, err := list(".contains()", recv)
	if err != nil {
		return nil, errorf(".contains() needs a string or a list, got %s; for a map use .containsKey()", kind(recv))
	}
	for i := 0; i < l.Len(); i++ {
		if runtime.Equal(l.Index(i).Interface(), args[0]) {
			return true, nil
		}
	}
	return false, nil
}

func containsKeyMethod(r *run, recv any, args []any) (any, error) {
	if len(args) != 1 {
		return nil, errorf(".containsKey() takes one argument")
	}
	m := reflect.ValueOf(recv)
	if m.Kind() != reflect.Map {
		return nil, errorf(".containsKey() needs a map, got %s", kind(recv))
	}
	k := reflect.ValueOf(args[0])
	if !k.IsValid() || !k.Type().AssignableTo(m.Type().Key()) {
		return false, nil
	}
	return m.MapIndex(k).IsValid(), nil
}

// indexOfMethod is String.indexOf (in characters) or List.indexOf.
func indexOfMethod(r *run, recv any, args []any) (any, error) {
	if len(args) != 1 {
		return nil, errorf(".indexOf() takes one argument")
	}
	if s, ok := recv.(string); ok {
		sub, err := text(".indexOf()", args[0])
		if err != nil {
			return nil, err
		}
		i := strings.Index(s, sub)
		if i < 0 {
			return -1, nil
		}
		return utf8.RuneCountInString(s[:i]), nil
	}
	l, err := list(".indexOf()", recv)
	if err != nil {
		return nil, errorf(".indexOf() needs a string or a list, got %s", kind(recv))
	}
	for i := 0; i < l.Len(); i++ {
		if runtime.Equal(l.Index(i).Interface(), args[0]) {
			return i, nil
		}
	}
	return -1, nil
}

func length(name string, recv any) (int, error) {
	if s, ok := recv.(string); ok {
		return utf8.RuneCountInString(s), nil
	}
	switch v := reflect.ValueOf(recv); v.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return v.Len(), nil
	}
	return 0, errorf("%s needs a string, a list or a map, got %s", name, kind(recv))
}

func sizeMethod(r *run, recv any, args []any) (any, error) {
	if len(args) != 0 {
		return nil, errorf(".size() takes no arguments")
	}
	return length(".size()", recv)
}

func isEmptyMethod(r *run, recv any, args []any) (any, error) {
	if len(args) != 0 {
		return nil, errorf(".isEmpty() takes no arguments")
	}
	n, err := length(".isEmpty()", recv)
	return n == 0, err
}

func equalsMethod(r *run, recv any, args []any) (any, error) {
	if len(args) != 1 {
		return nil, errorf(".equals() takes one argument")
	}
	return runtime.Equal(recv, args[0]), nil
}

// getMethod is List.get(index) or Map.get(key); a missing key is null.
func getMethod(r *run, recv any, args []any) (any, error) {
	if len(args) != 1 {
		return nil, errorf(".get() takes one argument")
	}
	v := reflect.ValueOf(recv)
	switch v.Kind() {
	case reflect.Map:
		k := reflect.ValueOf(args[0])
		if !k.IsValid() || !k.Type().AssignableTo(v.Type().Key()) {
			return nil, nil
		}
		if e := v.MapIndex(k); e.IsValid() {
			return e.Interface(), nil
		}
		return nil, nil
	case reflect.Slice, reflect.Array:
		i, err := asInt(".get()", args[0])
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= v.Len() {
			return nil, errorf(".get(%d) is out of range for a list of %d elements", i, v.Len())
		}
		return v.Index(i).Interface(), nil
	}
	return nil, errorf(".get() needs a list or a map, got %s", kind(recv))
}

func toStringMethod(r *run, recv any, args []any) (any, error) {
	if len(args) != 0 {
		return nil, errorf(".toString() takes no arguments")
	}
	return stringFn(r, []any{recv})
}
