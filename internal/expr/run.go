package expr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// run is the state of one evaluation, reached by functions through runKey.
type run struct {
	ctx            context.Context
	done           <-chan struct{}
	expired        atomic.Bool // set by a timer at the deadline
	deadline       time.Time   // the same deadline, read every clockEvery checkpoints
	timeout        time.Duration
	callerDeadline bool // the context's deadline comes before timeout
	maxBytes       int
	maxMemory      int // bytes the evaluation may allocate (see alloc)
	used           int // bytes charged so far
	env            *Env
	regexps        map[string]*pattern
	limitErr       error // the limit error returned by tick, to tell it apart from expr's own errors
	ticks          int   // checkpoints passed
	steps          int   // steps counted by step
}

// clockEvery is how often (in checkpoints) tick reads the clock as well as
// the timer's flag, so that the deadline holds even when the timer's
// goroutine is slow to be scheduled on a busy machine.
const clockEvery = 64

// ErrTimeout is wrapped by the *Error of an evaluation that ran past its
// time limit (with context.DeadlineExceeded too when the caller's deadline
// was the limit); ErrTooLarge by the *Error of one that would have built a
// value over a size limit or allocated more than its memory budget; ErrBusy
// by the *Error of one that found the process's limit of evaluations
// running and none finished within its time limit. Test with errors.Is.
var (
	ErrTimeout  = errors.New("expression time limit exceeded")
	ErrTooLarge = errors.New("expression size limit exceeded")
	ErrBusy     = errors.New("too many expressions evaluating at once")
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
	err error // ErrTimeout, ErrTooLarge, ErrBusy or the context's error
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

// tick is the checkpoint: it is called by every closure iteration, builtin,
// comparison and function, and every so often by functions that work
// through large inputs. It stops the evaluation once the deadline has
// passed or the caller's context is done, from the first checkpoint on. It
// costs an atomic load and a channel poll (a timer, not the clock, marks the
// deadline), and a clock read every clockEvery calls.
func (r *run) tick() error {
	r.ticks++
	if !r.expired.Load() && r.ticks%clockEvery == 0 && !r.deadline.IsZero() && time.Now().After(r.deadline) {
		r.expired.Store(true)
	}
	if r.expired.Load() {
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

// every passes a checkpoint on every 1024th step i of a loop over a
// large input.
func (r *run) every(i int) error {
	if i%1024 != 1023 {
		return nil
	}
	return r.tick()
}

// step passes a checkpoint every 1024th call, for work done in many small
// steps, such as walking a value.
func (r *run) step() error {
	if r.steps++; r.steps%1024 != 0 {
		return nil
	}
	return r.tick()
}

// timeoutError reports the deadline, the evaluation's own or the caller's.
func (r *run) timeoutError() *limitError {
	if r.callerDeadline || errors.Is(r.ctx.Err(), context.DeadlineExceeded) {
		return &limitError{msg: "evaluation stopped: the caller's deadline passed", err: errors.Join(ErrTimeout, context.DeadlineExceeded)}
	}
	return &limitError{msg: fmt.Sprintf("evaluation took longer than %v, its time limit; simplify the expression", r.timeout), err: ErrTimeout}
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

// alloc charges n bytes that the caller is about to allocate to the
// evaluation's memory budget, and refuses them if the budget would be
// exceeded; what names the allocation, in parts joined only for the
// message. The budget counts allocation, not live memory: what an
// evaluation built and dropped still counts, so a loop that builds big
// strings runs out however many it discards.
func (r *run) alloc(n int, what ...string) error {
	if n < 0 || n > r.maxMemory-r.used {
		if n < 0 {
			n = r.maxMemory // an overflowed size computation
		}
		return r.stop(&limitError{
			msg: fmt.Sprintf("%s would allocate %d bytes, and the evaluation has already used %d of its %d-byte memory limit",
				strings.Join(what, ""), n, r.used, r.maxMemory),
			err: ErrTooLarge,
		})
	}
	r.used += n
	return nil
}

// callCost charges the memory of one function call (see function.call).
func (r *run) callCost(n int) error {
	if n > r.maxMemory-r.used {
		return r.stop(&limitError{
			msg: fmt.Sprintf("the evaluation used up its %d-byte memory limit, the last of it on function calls: every step of a loop takes some; narrow the lists it loops over or simplify the expression",
				r.maxMemory),
			err: ErrTooLarge,
		})
	}
	r.used += n
	return nil
}

// Bounds on regular expressions. Go's regexp matches in time linear in the
// input, but its cost per byte grows with the size of the compiled program,
// and a short pattern can compile to a large program: repetition counts
// multiply, so (?:abc){1000} is 3000 instructions and each costs about 0.2–2
// µs and 200–400 bytes to compile. The program's size is computed from the
// parse tree, before anything is compiled.
const (
	// maxPatternBytes bounds the length of a pattern, before it is parsed.
	maxPatternBytes = 4096
	// maxUnicodeClasses bounds the Unicode classes (\p{…}, \P{…}) of a
	// pattern: each is a table of hundreds of ranges, which parsing
	// copies (negated and case-folded, as written), taking about 30 µs.
	maxUnicodeClasses = 16
	// maxRegexpInsts bounds the compiled program of one pattern.
	maxRegexpInsts = 5000
	// regexpInstBytes is charged to the memory budget per instruction
	// compiled, covering the program, its one-pass form and the matcher;
	// regexpRuneBytes per rune of its character classes, which parsing
	// and compiling copy several times.
	regexpInstBytes = 400
	regexpRuneBytes = 32
	// maxCachedPatterns bounds the compiled patterns one evaluation keeps
	// for reuse; patterns past it are compiled (and charged) each time.
	maxCachedPatterns = 64
	// maxRegexpWork bounds one regular-expression operation: the
	// instructions of the compiled pattern times the bytes of the input.
	// Matching costs up to about 7 ns per unit (no DFA in Go's regexp).
	maxRegexpWork = 10_000_000
	// regexpBurst is the work one regexp operation may do between
	// checkpoints. A match with more work reads its input through a
	// checkpoint; a split, which cannot be, is refused above it.
	regexpBurst = 2_000_000
)

// pattern is a compiled regular expression and the size of its program.
type pattern struct {
	expr    string // as written
	re      *regexp.Regexp
	insts   int
	caps    int  // capture groups
	context bool // it has ^, \A, \b or \B, which look behind the start of a search
}

// regexp compiles a pattern once per evaluation (up to maxCachedPatterns);
// whole anchors it so that it must match the entire string, as Java's
// String.matches does. The pattern's length and program size are checked,
// and the program charged to the memory budget, before it is compiled.
func (r *run) regexp(expr string, whole bool) (*pattern, error) {
	key := expr
	if whole {
		key = "^(?:" + expr + ")$"
	}
	if p, ok := r.regexps[key]; ok {
		return p, nil
	}
	if len(expr) > maxPatternBytes {
		return nil, r.stop(&limitError{
			msg: fmt.Sprintf("the regular expression %q is %d bytes long, over the %d-byte limit", clip(expr), len(expr), maxPatternBytes),
			err: ErrTooLarge,
		})
	}
	if n := strings.Count(expr, `\p`) + strings.Count(expr, `\P`); n > maxUnicodeClasses {
		return nil, r.stop(&limitError{
			msg: fmt.Sprintf("the regular expression %q has %d Unicode classes (\\p, \\P), over the limit of %d", clip(expr), n, maxUnicodeClasses),
			err: ErrTooLarge,
		})
	}
	// Parse the pattern alone first: whole's anchoring could make an
	// invalid pattern such as "a)|(b" valid.
	if whole {
		if _, err := syntax.Parse(expr, syntax.Perl); err != nil {
			return nil, errorf("invalid regular expression %q: %v", clip(expr), err)
		}
	}
	parsed, err := syntax.Parse(key, syntax.Perl)
	if err != nil {
		return nil, errorf("invalid regular expression %q: %v", clip(expr), err)
	}
	insts := 2 + progSize(parsed, maxRegexpInsts) // InstFail and InstMatch
	if insts > maxRegexpInsts {
		return nil, r.stop(&limitError{
			msg: fmt.Sprintf("the regular expression %q would compile to more than %d instructions, the limit; repetition multiplies (a{100}b{100} is 200, (?:ab){100} is 200), so reduce the counts",
				clip(expr), maxRegexpInsts),
			err: ErrTooLarge,
		})
	}
	if err := r.alloc(insts*regexpInstBytes+runes(parsed)*regexpRuneBytes, fmt.Sprintf("compiling the regular expression %q", clip(expr))); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(key)
	if err != nil {
		return nil, errorf("invalid regular expression %q: %v", clip(expr), err)
	}
	p := &pattern{expr: expr, re: re, insts: insts, caps: parsed.MaxCap(), context: lookBehind(parsed)}
	if r.regexps == nil {
		r.regexps = make(map[string]*pattern)
	}
	if len(r.regexps) < maxCachedPatterns {
		r.regexps[key] = p
	}
	return p, nil
}

// progSize is the number of instructions re compiles to, at most (the
// pessimistic count regexp/syntax uses for its own size check), or more
// than limit when it exceeds limit.
func progSize(re *syntax.Regexp, limit int) int {
	sub := func(i int) int { return progSize(re.Sub[i], limit) }
	size := 0
	switch re.Op {
	case syntax.OpLiteral:
		size = len(re.Rune)
	case syntax.OpCapture, syntax.OpStar:
		size = 2 + sub(0)
	case syntax.OpPlus, syntax.OpQuest:
		size = 1 + sub(0)
	case syntax.OpConcat, syntax.OpAlternate:
		for i := range re.Sub {
			if size += sub(i); size > limit {
				return limit + 1
			}
		}
		if re.Op == syntax.OpAlternate {
			size += len(re.Sub) - 1
		}
	case syntax.OpRepeat:
		s := sub(0)
		n := re.Max
		if n == -1 {
			n = re.Min
		}
		if s > limit || n > 0 && s > limit/n {
			return limit + 1
		}
		switch {
		case re.Max != -1:
			size = n*s + re.Max - re.Min // x{2,5} is xx(x(x(x)?)?)?
		case re.Min == 0:
			size = 2 + s // x*
		default:
			size = n*s + 1 // xxx+
		}
	}
	return min(max(1, size), limit+1)
}

// runes counts the runes of the literals and character classes of re.
func runes(re *syntax.Regexp) int {
	n := len(re.Rune)
	for _, sub := range re.Sub {
		n += runes(sub)
	}
	return n
}

// lookBehind reports whether re has an assertion that depends on the
// character before the position being tested.
func lookBehind(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpBeginLine, syntax.OpBeginText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	}
	for _, sub := range re.Sub {
		if lookBehind(sub) {
			return true
		}
	}
	return false
}

// scan checks that running p over s stays within maxRegexpWork.
func (p *pattern) scan(s string) *limitError {
	if len(s) > 0 && p.insts > maxRegexpWork/len(s) {
		return &limitError{
			msg: fmt.Sprintf("the regular expression %q is too costly for a %d-byte string (%d × %d steps, over %d); shorten the pattern or the string",
				clip(p.re.String()), len(s), p.insts, len(s), maxRegexpWork),
			err: ErrTooLarge,
		}
	}
	return nil
}

// match reports whether p matches s. A match that may take longer than
// regexpBurst reads s through a checkpoint every regexpBurst units of work,
// so the deadline stops it.
func (r *run) match(p *pattern, s string) (bool, error) {
	if le := p.scan(s); le != nil {
		return false, r.stop(le)
	}
	if p.insts*len(s) <= regexpBurst {
		return p.re.MatchString(s), nil
	}
	in := &checkedReader{s: s, r: r, every: max(1, regexpBurst/p.insts)}
	matched := p.re.MatchReader(in)
	if in.err != nil {
		return false, in.err
	}
	return matched, nil
}

// checkedReader reads a string rune by rune, as MatchString decodes it, and
// passes a checkpoint every so many runes. At a limit it ends the input
// early and keeps the error, so the (meaningless) match result is dropped.
type checkedReader struct {
	s     string
	i     int
	n     int // runes read since the last checkpoint
	every int
	r     *run
	err   error
}

func (c *checkedReader) ReadRune() (rune, int, error) {
	if c.i >= len(c.s) || c.err != nil {
		return 0, 0, io.EOF
	}
	if c.n++; c.n >= c.every {
		c.n = 0
		if c.err = c.r.tick(); c.err != nil {
			return 0, 0, io.EOF
		}
	}
	ch, size := utf8.DecodeRuneInString(c.s[c.i:])
	c.i += size
	return ch, size, nil
}
