package expr

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"sync/atomic"
	"time"
)

// run is the state of one evaluation, reached by functions through runKey.
type run struct {
	ctx            context.Context
	done           <-chan struct{}
	expired        atomic.Bool // set by a timer at the deadline
	timeout        time.Duration
	callerDeadline bool // the context's deadline comes before timeout
	maxBytes       int
	env            *Env
	regexps        map[string]*pattern
	limitErr       error // the limit error returned by tick, to tell it apart from expr's own errors
	ticks          int   // checkpoints passed
}

// minTicks is the work (checkpoints) an evaluation must have done before its
// own timeout may stop it. The deadline is wall-clock time, and a goroutine
// can be descheduled for longer than the whole budget on a loaded machine; a
// short expression (no loop, a few operations) must not fail because of that.
// Anything that can run long passes many checkpoints. The caller's context
// is honoured at once.
const minTicks = 32

// ErrTimeout is wrapped by the *Error of an evaluation that ran past its
// time limit (with context.DeadlineExceeded too when the caller's deadline
// was the limit); ErrTooLarge by the *Error of one that would have built a
// value over a size limit. Test with errors.Is.
var (
	ErrTimeout  = errors.New("expression time limit exceeded")
	ErrTooLarge = errors.New("expression size limit exceeded")
)

// maxElements bounds the list elements an evaluation may create (ranges,
// literals, concat, flatten, sort …), cumulatively; it is expr's memory
// budget, and it also bounds how deep a value can nest.
const maxElements = 200_000

// maxDepth bounds the nesting of a value an expression returns or
// serialises.
const maxDepth = 200

// limitError is an evaluation stopped by a sandbox limit.
type limitError struct {
	msg string
	err error // ErrTimeout, ErrTooLarge or the context's error
}

func (e *limitError) Error() string { return e.msg }
func (e *limitError) Unwrap() error { return e.err }

// helperError is an error raised by a function, with a message meant for the
// user as is.
type helperError struct{ msg string }

func (e *helperError) Error() string { return e.msg }

func errorf(format string, args ...any) error {
	return &helperError{msg: fmt.Sprintf(format, args...)}
}

// tick is called by every closure iteration, builtin, comparison and
// function; it stops the evaluation once the deadline has passed or the
// caller's context is done. It costs an atomic load and a channel poll: a
// timer, not the clock, marks the deadline.
func (r *run) tick() error {
	r.ticks++
	if r.expired.Load() && (r.ticks > minTicks || r.callerDeadline) {
		return r.stop(r.timeoutError())
	}
	select {
	case <-r.done:
		if errors.Is(r.ctx.Err(), context.DeadlineExceeded) {
			return r.stop(r.timeoutError())
		}
		return r.stop(&limitError{msg: "evaluation cancelled: " + r.ctx.Err().Error(), err: r.ctx.Err()})
	default:
	}
	return nil
}

// timeoutError reports the deadline, the evaluation's own or the caller's.
func (r *run) timeoutError() *limitError {
	if r.callerDeadline || errors.Is(r.ctx.Err(), context.DeadlineExceeded) {
		return &limitError{msg: "evaluation stopped: the caller's deadline passed", err: errors.Join(ErrTimeout, context.DeadlineExceeded)}
	}
	return &limitError{msg: fmt.Sprintf("evaluation took longer than %v; simplify the expression", r.timeout), err: ErrTimeout}
}

func (r *run) stop(err *limitError) error {
	if r.limitErr == nil {
		r.limitErr = err
	}
	return err
}

// tooLarge reports a value that would exceed the size limit.
func (r *run) tooLarge(what string, n int) error {
	return r.stop(&limitError{
		msg: fmt.Sprintf("%s would be %d bytes, over the %d-byte limit", what, n, r.maxBytes),
		err: ErrTooLarge,
	})
}

// maxRegexpWork bounds one regular-expression operation: the instructions
// of the compiled pattern times the bytes of the input. Go's regexp runs in
// time proportional to that product (it has no DFA), so this keeps one
// match or split, which no checkpoint can interrupt, to well under the
// deadline: a 50-instruction pattern can scan 200 KB.
const maxRegexpWork = 10_000_000

// pattern is a compiled regular expression and the size of its program.
type pattern struct {
	re    *regexp.Regexp
	insts int
}

// regexp compiles a pattern once per evaluation; whole anchors it so that
// it must match the entire string, as Java's String.matches does.
func (r *run) regexp(expr string, whole bool) (*pattern, error) {
	key := expr
	if whole {
		key = "^(?:" + expr + ")$"
	}
	if p, ok := r.regexps[key]; ok {
		return p, nil
	}
	if _, err := regexp.Compile(expr); err != nil {
		return nil, errorf("invalid regular expression %q: %v", expr, err)
	}
	re, err := regexp.Compile(key)
	if err != nil {
		return nil, errorf("invalid regular expression %q: %v", expr, err)
	}
	parsed, err := syntax.Parse(key, syntax.Perl)
	if err != nil {
		return nil, errorf("invalid regular expression %q: %v", expr, err)
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, errorf("invalid regular expression %q: %v", expr, err)
	}
	p := &pattern{re: re, insts: len(prog.Inst)}
	if r.regexps == nil {
		r.regexps = make(map[string]*pattern)
	}
	r.regexps[key] = p
	return p, nil
}

// scan checks that running p over s stays within maxRegexpWork.
func (p *pattern) scan(s string) *limitError {
	if len(s) > 0 && p.insts > maxRegexpWork/len(s) {
		return &limitError{
			msg: fmt.Sprintf("the regular expression %q is too costly for a %d-byte string (%d × %d steps, over %d); shorten the pattern or the string",
				p.re.String(), len(s), p.insts, len(s), maxRegexpWork),
			err: ErrTooLarge,
		}
	}
	return nil
}
