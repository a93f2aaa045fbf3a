package expr

import (
	"fmt"
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
	"toUpperCase":      caseMethod(".toUpperCase()", strings.ToUpper),
	"toLowerCase":      caseMethod(".toLowerCase()", strings.ToLower),
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

// caseMethod is toUpperCase or toLowerCase, with the copy charged.
func caseMethod(name string, convert func(string) string) method {
	return func(r *run, recv any, args []any) (any, error) {
		s, ok := recv.(string)
		if !ok {
			return nil, errorf("%s needs a string, got %s", name, kind(recv))
		}
		if len(args) != 0 {
			return nil, errorf("%s takes no arguments", name)
		}
		// A few characters change length with their case, by at most half.
		if err := r.alloc(len(s)+len(s)/2, "the string built by ", name); err != nil {
			return nil, err
		}
		return convert(s), nil
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
	begin, err := asInt(".substring()", args[0])
	if err != nil {
		return nil, err
	}
	n := utf8.RuneCountInString(s)
	end := n
	if len(args) == 2 {
		if end, err = asInt(".substring()", args[1]); err != nil {
			return nil, err
		}
	}
	if begin < 0 || end > n || begin > end {
		return nil, errorf(".substring(%d, %d) is out of range for a string of %d characters", begin, end, n)
	}
	if !utf8.ValidString(s) {
		// Each invalid byte is a character, which comes out as U+FFFD.
		if err := r.alloc(4*n+3*(end-begin), "the string built by .substring()"); err != nil {
			return nil, err
		}
		return string([]rune(s)[begin:end]), nil
	}
	return s[runeOffset(s, begin):runeOffset(s, end)], nil
}

// runeOffset is the byte offset of character i of a valid UTF-8 string.
func runeOffset(s string, i int) int {
	off := 0
	for ; i > 0; i-- {
		_, size := utf8.DecodeRuneInString(s[off:])
		off += size
	}
	return off
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
	// Each piece costs a string in the split, its copy in the result
	// and the match's indexes: 64 bytes.
	var parts []string
	if lit, complete := p.re.LiteralPrefix(); complete && lit != "" {
		n := strings.Count(s, lit) + 1
		if n > maxElements {
			return nil, r.tooManyElements(".split()", n)
		}
		if err := r.alloc(64*n, "the list built by .split()"); err != nil {
			return nil, err
		}
		parts = strings.Split(s, lit)
	} else {
		if le := p.scan(s); le != nil {
			return nil, r.stop(le)
		}
		// A search for the next match cannot pass checkpoints while it
		// runs: bound it to what a match may do between two.
		if work := p.insts * len(s) * (1 + p.caps/32); len(s) > 0 && (p.insts > regexpBurst/len(s) || work > regexpBurst) {
			return nil, r.stop(&limitError{
				msg: fmt.Sprintf(".split(%q) is too costly for a %d-byte string (%d × %d steps, over %d); shorten the pattern or the string",
					clip(expr), len(s), p.insts, len(s), regexpBurst),
				err: ErrTooLarge,
			})
		}
		// At most one piece per character, plus one.
		if err := r.alloc(64*min(utf8.RuneCountInString(s)+1, maxElements+1), "the list built by .split()"); err != nil {
			return nil, err
		}
		if parts, err = r.splitRegexp(p, s); err != nil {
			return nil, err
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

// maxContextSplit bounds the characters split by a pattern that looks
// behind where a search starts (^, \A, \b, \B), which must be split in
// one go.
const maxContextSplit = 10_000

// splitRegexp is p.re.Split(s, maxElements+1), refused when it would yield
// more than maxElements pieces. Unless the pattern looks behind where a
// search starts, it finds one match at a time, as Split does, and passes a
// checkpoint every 1024 matches.
func (r *run) splitRegexp(p *pattern, s string) ([]string, error) {
	if p.context {
		if n := utf8.RuneCountInString(s); n > maxContextSplit {
			return nil, r.stop(&limitError{
				msg: fmt.Sprintf(".split(%q) on a string of %d characters: a pattern with ^, \\A, \\b or \\B can split at most %d; split on a pattern without them",
					clip(p.expr), n, maxContextSplit),
				err: ErrTooLarge,
			})
		}
		parts := p.re.Split(s, maxElements+1)
		if len(parts) > maxElements {
			return nil, r.tooManyElements(".split()", len(parts))
		}
		return parts, nil
	}
	if len(s) == 0 {
		return []string{""}, nil
	}
	// As regexp's allMatches and Split, with the search started at pos
	// by slicing, which the pattern cannot tell apart.
	var parts []string
	beg, end := 0, 0
	for pos, prevEnd, i := 0, -1, 0; pos <= len(s); i++ {
		if err := r.every(i); err != nil {
			return nil, err
		}
		loc := p.re.FindStringIndex(s[pos:])
		if loc == nil {
			break
		}
		m0, m1 := loc[0]+pos, loc[1]+pos
		accept := true
		if m1 == pos { // an empty match
			if m0 == prevEnd {
				accept = false // not right after the previous match
			}
			if pos < len(s) {
				_, w := utf8.DecodeRuneInString(s[pos:])
				pos += w
			} else {
				pos = len(s) + 1
			}
		} else {
			pos = m1
		}
		prevEnd = m1
		if !accept {
			continue
		}
		end = m0
		if m1 != 0 {
			if len(parts) == maxElements {
				return nil, r.tooManyElements(".split()", maxElements+1)
			}
			parts = append(parts, s[beg:end])
		}
		beg = m1
	}
	if end != len(s) {
		if len(parts) == maxElements {
			return nil, r.tooManyElements(".split()", maxElements+1)
		}
		parts = append(parts, s[beg:])
	}
	return parts, nil
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
		if err := r.every(i); err != nil {
			return nil, err
		}
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
		if err := r.every(i); err != nil {
			return nil, err
		}
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
