package expr

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Default limits of one evaluation.
const (
	DefaultTimeout        = 100 * time.Millisecond
	DefaultMaxResultBytes = 1 << 20
	// DefaultMaxMemoryBytes is the memory budget of an evaluation when
	// MaxResultBytes is at most a thirty-second of it.
	DefaultMaxMemoryBytes = 32 << 20
)

// Options bound an evaluation. The zero value means the defaults.
type Options struct {
	// Timeout is the time one expression may run; zero means DefaultTimeout.
	// The context's deadline, if earlier, wins. An evaluation that finds as
	// many others running as the process has processors (GOMAXPROCS) waits
	// for one to finish at most as long again, then fails with ErrBusy.
	Timeout time.Duration
	// MaxResultBytes bounds the result of one expression (measured as JSON)
	// and every string or list it builds on the way; zero means
	// DefaultMaxResultBytes.
	MaxResultBytes int
	// MaxMemoryBytes bounds the bytes one evaluation may allocate in total
	// (strings, lists, JSON, compiled patterns …, including what it
	// discards, and what expr allocates for each function call); zero means
	// DefaultMaxMemoryBytes or thirty-two times MaxResultBytes, whichever is
	// larger.
	MaxMemoryBytes int
}

func (o Options) withDefaults() Options {
	o.Timeout = cmp.Or(o.Timeout, DefaultTimeout)
	o.MaxResultBytes = cmp.Or(o.MaxResultBytes, DefaultMaxResultBytes)
	o.MaxMemoryBytes = cmp.Or(o.MaxMemoryBytes, max(DefaultMaxMemoryBytes, 32*o.MaxResultBytes))
	return o
}

// Error is an expression that could not be compiled or evaluated.
type Error struct {
	Expr string // the expression body as written
	Msg  string // what went wrong, and where possible how to fix it
	Err  error  // ErrTimeout, ErrTooLarge, ErrBusy or the context's error when one of those stopped it; else nil
}

func (e *Error) Error() string { return fmt.Sprintf("expression ${%s}: %s", e.Expr, e.Msg) }
func (e *Error) Unwrap() error { return e.Err }

// Check compiles one expression body (without ${ }) and reports whether it is
// well-formed: syntax, known # helpers and methods, no T(…) or new. It does
// not evaluate anything.
func Check(src string) error {
	src = unwrap(src)
	if p := programs.get(src); p.err != nil {
		return syntaxErr(src, p.err)
	}
	return nil
}

// Eval evaluates one expression body, such as a stageEnabled expression
// "#judgment('Approve') == 'promote'", with the default limits. A body
// written as a single "${…}" is accepted too.
func Eval(ctx context.Context, src string, env *Env) (any, error) {
	return EvalWithOptions(ctx, src, env, Options{})
}

// EvalWithOptions is Eval with explicit limits. The result is plain data
// (nil, bool, int, float64, string, []any, map[string]any) that shares
// nothing with env.
func EvalWithOptions(ctx context.Context, src string, env *Env, opts Options) (any, error) {
	return evaluate(ctx, unwrap(src), env, opts.withDefaults())
}

// unwrap strips ${ } from a body written as exactly one expression.
func unwrap(src string) string {
	t := strings.TrimSpace(src)
	if strings.HasPrefix(t, "${") {
		if spans, err := Spans(t); err == nil && len(spans) == 1 && spans[0].Start == 0 && spans[0].End == len(t) {
			return spans[0].Expr
		}
	}
	return src
}

func syntaxErr(src string, e *syntaxError) *Error {
	msg := e.msg
	if e.pos >= 0 {
		msg = fmt.Sprintf("%s (column %d)", msg, column(src, e.pos))
	}
	return &Error{Expr: src, Msg: msg}
}

// evaluate runs one expression body.
func evaluate(ctx context.Context, src string, env *Env, opts Options) (any, error) {
	p := programs.get(src)
	if p.err != nil {
		return nil, syntaxErr(src, p.err)
	}
	if env == nil {
		env = &Env{}
	}
	release, err := acquire(ctx, opts.Timeout)
	if err != nil {
		return nil, &Error{Expr: src, Msg: err.Error(), Err: errors.Unwrap(err)}
	}
	defer release()
	vars := env.vars(p.roots)
	r := &run{ctx: ctx, done: ctx.Done(), timeout: opts.Timeout, maxBytes: opts.MaxResultBytes, maxMemory: opts.MaxMemoryBytes, env: env}
	wait := opts.Timeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
		wait, r.callerDeadline = time.Until(d), true
	}
	r.deadline = time.Now().Add(wait)
	if wait <= 0 {
		r.expired.Store(true)
	} else {
		timer := time.AfterFunc(wait, func() { r.expired.Store(true) })
		defer timer.Stop()
	}
	if err := r.tick(); err != nil {
		return nil, &Error{Expr: src, Msg: err.Error(), Err: errors.Unwrap(err)}
	}
	vars[runKey] = r

	machine := vm.VM{MemoryBudget: maxElements}
	out, err := runProgram(&machine, p.prog, vars)
	if err != nil {
		return nil, r.failure(src, p, err)
	}
	out, err = r.toData(out, "the result")
	if err == nil {
		err = r.fitsAsJSON(out, "the result as JSON")
	}
	if err != nil {
		return nil, r.failure(src, p, err)
	}
	return out, nil
}

// runProgram runs a compiled expression, turning any panic into an error.
func runProgram(machine *vm.VM, prog *vm.Program, vars map[string]any) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return machine.Run(prog, vars)
}

// failure turns an evaluation error into an *Error whose message says what
// to fix.
func (r *run) failure(src string, p *program, err error) *Error {
	e := &Error{Expr: src}
	var le *limitError
	var he *helperError
	switch {
	case r.limitErr != nil:
		// A limit stops the evaluation however expr reports it.
		e.Msg, e.Err = r.limitErr.Error(), errors.Unwrap(r.limitErr)
		return e
	case errors.As(err, &le):
		e.Msg, e.Err = le.msg, le.err
		return e
	}
	msg := err.Error()
	var fe *file.Error
	if errors.As(err, &he) {
		msg = he.msg
	} else if errors.As(err, &fe) {
		msg = fe.Message
	}
	switch {
	case msg == "memory budget exceeded":
		e.Msg = fmt.Sprintf("expression builds more than %d list elements; narrow the ranges or lists it works on", maxElements)
		e.Err = ErrTooLarge
		return e
	case strings.HasPrefix(msg, "cannot fetch ") && strings.HasSuffix(msg, " from <nil>"):
		msg = fmt.Sprintf("cannot read %s of null", strings.TrimSuffix(strings.TrimPrefix(msg, "cannot fetch "), " from <nil>"))
	case strings.HasPrefix(msg, "interface conversion: interface {} is ") && strings.HasSuffix(msg, ", not bool"):
		got := strings.TrimSuffix(strings.TrimPrefix(msg, "interface conversion: interface {} is "), ", not bool")
		msg = fmt.Sprintf("a condition (the test of a ? b : c, an operand of and/or, a predicate of filter, all, any, count …) must be true or false, got %s", goTypeKind(got))
	}
	e.Msg = msg + undefinedHint(p, r.env)
	return e
}

// undefinedHint names the roots an expression reads that are not defined,
// for messages about errors and null values.
func undefinedHint(p *program, env *Env) string {
	var missing []string
	for _, name := range p.names {
		if _, ok := env.root(name); !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	verb := "is"
	if len(missing) > 1 {
		verb = "are"
	}
	return fmt.Sprintf(" (%s %s not defined; defined names are %s)", quoteList(missing, 5), verb, quoteList(env.rootNames(), 20))
}

// goTypeKind names a Go type, as printed in a runtime error, the way kind
// names a value.
func goTypeKind(t string) string {
	switch {
	case t == "nil":
		return "null"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a map"
	}
	return "a " + t
}
