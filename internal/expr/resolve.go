package expr

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Summary lists the expressions Resolve could not evaluate.
type Summary struct {
	Failures []Failure
}

// Empty reports whether every expression was evaluated.
func (s *Summary) Empty() bool { return s == nil || len(s.Failures) == 0 }

// Failure is one expression left in place by Resolve.
type Failure struct {
	Path       string // where in the value: "payload.items[2]"; "" for the value itself
	Expression string // the ${…} text as written
	Msg        string // what went wrong, and where possible how to fix it
	// Null is set when the expression evaluated to null rather than failing
	// (Orca's "not found", which it reports at INFO level).
	Null bool
}

func (f Failure) String() string {
	if f.Path == "" {
		return fmt.Sprintf("%s: %s", f.Expression, f.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", f.Path, f.Expression, f.Msg)
}

// Holds reports whether any string Resolve would evaluate in v holds an
// expression's opening "${": when none does, Resolve returns a copy of v
// with an empty Summary, and needs no Env, whose making reads the whole
// execution.
func Holds(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, "${")
	case map[string]any:
		for _, e := range x {
			if Holds(e) {
				return true
			}
		}
	case []any:
		return slices.ContainsFunc(x, Holds)
	case map[string]string:
		for _, e := range x {
			if strings.Contains(e, "${") {
				return true
			}
		}
	case []string:
		return slices.ContainsFunc(x, func(e string) bool { return strings.Contains(e, "${") })
	}
	return false
}

// Resolve walks v — maps, lists and strings, as decoded from JSON — and
// evaluates every ${…} inside its strings, with the default limits. It
// returns a new value and never modifies v.
//
// As in Orca: a string that is exactly one ${x} becomes x's value with its
// type (number, bool, map, list); a string with text around its
// expressions, or several of them, becomes a string with each value
// interpolated (whole numbers without ".0", lists and maps as JSON). An
// expression that fails or evaluates to null is left in place, as its
// original ${…} text, and recorded in the Summary. Map keys are not
// evaluated. Strings in []string and map[string]string stay strings.
func Resolve(ctx context.Context, v any, env *Env) (any, *Summary) {
	return ResolveWithOptions(ctx, v, env, Options{})
}

// ResolveWithOptions is Resolve with explicit limits, applied to each
// expression (and to each interpolated string) separately.
func ResolveWithOptions(ctx context.Context, v any, env *Env, opts Options) (any, *Summary) {
	if env == nil {
		env = &Env{}
	}
	r := &resolver{ctx: ctx, env: env, opts: opts.withDefaults(), summary: &Summary{}}
	out := r.walk(v, "")
	// Maps are walked in random order; sort failures by path so the
	// summary is deterministic (failures within one string keep their order).
	slices.SortStableFunc(r.summary.Failures, func(a, b Failure) int { return strings.Compare(a.Path, b.Path) })
	return out, r.summary
}

type resolver struct {
	ctx     context.Context
	env     *Env
	opts    Options
	summary *Summary
}

func (r *resolver) walk(v any, path string) any {
	switch x := v.(type) {
	case string:
		return r.resolve(x, path, false)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = r.walk(e, keyPath(path, k))
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.walk(e, indexPath(path, i))
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(x))
		for k, e := range x {
			out[k] = r.resolve(e, keyPath(path, k), true).(string)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = r.resolve(e, indexPath(path, i), true).(string)
		}
		return out
	}
	return v
}

// resolve evaluates the expressions in one string. With asString set the
// result is always a string.
func (r *resolver) resolve(s, path string, asString bool) any {
	if !strings.Contains(s, "${") {
		return s
	}
	spans, err := Spans(s)
	if err != nil {
		var se *SpanError
		errors.As(err, &se)
		r.fail(Failure{Path: path, Expression: clip(s[se.Offset:]), Msg: se.Msg})
		return s
	}
	if len(spans) == 1 && spans[0].Start == 0 && spans[0].End == len(s) {
		v, ok := r.eval(s, path)
		switch {
		case !ok:
			return s
		case asString:
			return format(v)
		}
		return v
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.Start])
		text := s[sp.Start:sp.End]
		if v, ok := r.eval(text, path); ok {
			b.WriteString(format(v))
		} else {
			b.WriteString(text)
		}
		last = sp.End
		if b.Len() > r.opts.MaxResultBytes {
			break
		}
	}
	b.WriteString(s[last:])
	if b.Len() > r.opts.MaxResultBytes {
		r.fail(Failure{Path: path, Expression: clip(s), Msg: fmt.Sprintf("the interpolated string is larger than the %d-byte limit", r.opts.MaxResultBytes)})
		return s
	}
	return b.String()
}

// eval evaluates one ${…} span, recording a failure when it fails or
// yields null.
func (r *resolver) eval(text, path string) (any, bool) {
	body := text[2 : len(text)-1]
	v, err := evaluate(r.ctx, body, r.env, r.opts)
	if err != nil {
		msg := err.Error()
		var e *Error
		if errors.As(err, &e) {
			msg = e.Msg
		}
		r.fail(Failure{Path: path, Expression: text, Msg: msg})
		return nil, false
	}
	if v == nil {
		msg := "evaluated to null"
		if p := programs.get(body); p.err == nil {
			msg += undefinedHint(p, r.env)
		}
		r.fail(Failure{Path: path, Expression: text, Msg: msg, Null: true})
		return nil, false
	}
	return v, true
}

func (r *resolver) fail(f Failure) { r.summary.Failures = append(r.summary.Failures, f) }

// keyPath appends a map key: .name for identifier-like keys, ["key"] otherwise.
func keyPath(path, k string) string {
	if k != "" && isPlainKey(k) {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	return path + "[" + strconv.Quote(k) + "]"
}

func isPlainKey(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// clip shortens text quoted in a failure.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
