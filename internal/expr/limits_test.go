package expr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hangGuard is how long a runaway expression may take before a test calls
// it a hang. It is a safety net far above the limits under test, not a
// performance assertion.
const hangGuard = 5 * time.Second

func TestRunawayExpressions(t *testing.T) {
	t.Parallel()
	env := testEnv()
	tests := []struct {
		name, src string
		want      error  // ErrTimeout or ErrTooLarge
		msg       string // substring of the message
	}{
		{"huge repeat", "repeat('x', 1e9)", ErrTooLarge, "repeat would build a string of 1000000000 × 1 bytes"},
		{"repeat of repeat", "repeat(repeat('x', 1000000), 1000000)", ErrTooLarge, "over the 1048576-byte limit"},
		{"doubling with +", "let s = repeat('x', 600000); s + s", ErrTooLarge, "the string built by + would be 1200000 bytes"},
		{"doubling in a loop", "reduce(1..100, #acc + #acc, 'x')", ErrTooLarge, "the string built by +"},
		{"join of shared strings", "let s = repeat('x', 100000); join(map(1..100, s))", ErrTooLarge, "the string built by join"},
		{"replace amplification", "replace(repeat('a', 1000), 'a', repeat('b', 10000))", ErrTooLarge, "the string built by replace"},
		{"java replace amplification", "repeat('a', 1000).replace('a', repeat('b', 10000))", ErrTooLarge, "the string built by replace"},
		{"huge range", "map(1..100000000, #)", ErrTooLarge, "builds more than 200000 list elements"},
		{"huge bare range", "1..100000000", ErrTooLarge, "builds more than 200000 list elements"},
		{"flatten amplification", "let a = 1..1000; flatten(map(1..1000, a))", ErrTooLarge, "flatten would build a list of"},
		{"concat amplification", "let a = 1..50000; concat(a, a, a, a, a)", ErrTooLarge, "concat would build a list of 250000 elements"},
		{"toJSON of shared strings", "let s = repeat('x', 10000); toJSON(map(1..1000, s))", ErrTooLarge, "the argument of toJSON is larger than"},
		{"#toJson of shared strings", "let s = repeat('x', 10000); #toJson(map(1..1000, s))", ErrTooLarge, "the argument of #toJson is larger than"},
		{"string of shared strings", "let s = repeat('x', 10000); string(map(1..1000, s))", ErrTooLarge, "the argument of string is larger than"},
		{"interpolating shared strings", "let s = repeat('x', 10000); 'x' + map(1..1000, s)", ErrTooLarge, "the value added to a string is larger than"},
		{"big result", "let s = repeat('x', 10000); map(1..1000, s)", ErrTooLarge, "the result is larger than the 1048576-byte limit"},
		{"deep result", "reduce(1..1000, [#acc], 0)", ErrTooLarge, "the result nests more than 200 levels deep"},
		{"deep flatten", "flatten(reduce(1..1000, [#acc], 0))", ErrTooLarge, "flatten: the list nests more than 200 levels deep"},
		{"costly regexp", "repeat('a', 100000) matches repeat('a?', 1000) + repeat('a', 1000)", ErrTooLarge, "is too costly for a 100000-byte string"},
		{"costly regexp split", "repeat('ab', 100000).split(repeat('b?', 500))", ErrTooLarge, "is too costly for a 200000-byte string"},
		{"huge literal split", "repeat('a,', 500000).split(',')", ErrTooLarge, ".split() would build a list of 500001 elements"},
		{"huge regexp split", "repeat('a1', 300000).split('\\d')", ErrTooLarge, ".split() would build a list of 200001 elements"},
		{"indented JSON over the limit", "toJSON(repeat('a,', 199000).split(','))", ErrTooLarge, "the JSON built by toJSON would be"},
		{"nested loops", "let a = 1..100000; all(a, all(a, true))", ErrTimeout, "evaluation took longer than 100ms"},
		{"nested any", "let a = 1..100000; any(a, any(a, # < 0))", ErrTimeout, "evaluation took longer than 100ms"},
		{"nested count over env data", "let a = 1..100000; count(a, count(a, # == 1) > 5)", ErrTimeout, "evaluation took longer than 100ms"},
		{"quadratic uniq", "uniq(map(1..60000, [#]))", ErrTimeout, "evaluation took longer than 100ms"},
		// The range is built once: a new one in each closure would run into
		// the element budget, as fast as into the time limit.
		{"nested closures", "let r = 1..2; " + strings.Repeat("all(r, ", 99) + "true" + strings.Repeat(")", 99), ErrTimeout, "evaluation took longer than 100ms"},

		// The expression that ran 11.9 s and allocated 5.5 GB: a short
		// pattern that compiles to three million instructions.
		{"nested regexp repetition", "'a' matches '(?:' + repeat('a', 3000) + '){1000}'", ErrTooLarge, "would compile to more than 5000 instructions, the limit"},
		{"repeated repetition", "'a' matches repeat('a{1000}', 5)", ErrTooLarge, "would compile to more than 5000 instructions, the limit"},
		{"split by a big program", "'a'.split(repeat('x{999}', 6))", ErrTooLarge, "would compile to more than 5000 instructions, the limit"},
		{"long pattern", "'a' matches repeat('a', 5000)", ErrTooLarge, "is 5000 bytes long, over the 4096-byte limit"},
		{"a new pattern per iteration", "count(1..1000, 'a' matches '(?:abc){1000}' + #)", ErrTooLarge, "of its 33554432-byte memory limit"},
		{"costly split with captures", "repeat('ab', 2000).split('(?:(a|b)?){400}x')", ErrTooLarge, ".split(\"(?:(a|b)?){400}x\") is too costly for a 4000-byte string"},
		{"split on a word boundary", "repeat('a ', 10000).split('\\b')", ErrTooLarge, "can split at most 10000"},

		// Memory: what an evaluation builds, kept or dropped.
		{"strings kept by map", "len(map(1..1000, repeat('x', 100000)))", ErrTooLarge, "the string built by repeat would allocate 100000 bytes, and the evaluation has already used"},
		{"quadratic concatenation", "reduce(1..100000, #acc + 'xxxxxxxxxx', '')", ErrTooLarge, "of its 33554432-byte memory limit"},
		// expr allocates the arguments of every call: 16 KB a step here.
		{"many arguments in a loop", "let a = 1..100000; all(a, all(a, max(" + strings.Repeat("1, ", 999) + "1) > 0))", ErrTooLarge, "the evaluation used up its 33554432-byte memory limit, the last of it on function calls"},
		{"copies by upper", "let s = repeat('x', 1000000); len(map(1..100, upper(s)))", ErrTooLarge, "the result of upper would allocate"},
		{"copies by toUpperCase", "let s = repeat('x', 1000000); len(map(1..100, s.toUpperCase()))", ErrTooLarge, "the string built by .toUpperCase() would allocate"},
		{"split into characters", "len(split(repeat('a', 1000000), ''))", ErrTooLarge, "split would build a list of 1000000 elements, over the limit of 200000"},
		{"fromJSON of small objects", "len(fromJSON('[' + repeat('{\"\":0},', 140000) + '0]'))", ErrTooLarge, "the value read by fromJSON would allocate"},
		{"#readJson of small objects", "len(#readJson('[' + repeat('{\"\":1},', 140000) + '0]'))", ErrTooLarge, "the value read by #readJson would allocate"},
		{"indented JSON of a deep value", "toJSON(reduce(1..150, [#acc], 1..50000))", ErrTooLarge, "the JSON built by toJSON would be"},
		{"escaped JSON", "toJSON([repeat(#fromBase64('AQ=='), 999000)])", ErrTooLarge, "the JSON built by toJSON would be at least 5994008 bytes"},
		// Found by FuzzEval (testdata/fuzz/FuzzEval/5feb86378486b493): 0xd3
		// is not UTF-8, and JSON writes it as \ufffd.
		{"escaped result", "[repeat(fromBase64('0w=='), 700000)]", ErrTooLarge, "the result as JSON would be at least 4200004 bytes, over the 1048576-byte limit"},
		{"escaped JSON in a string", "'x' + [repeat(#fromBase64('/w=='), 999000)]", ErrTooLarge, "the value added to a string as JSON would be at least 5994004 bytes"},
		{"many Unicode classes", "'a' matches repeat('(?i:[^\\pLa-z])', 290)", ErrTooLarge, "has 290 Unicode classes (\\p, \\P), over the limit of 16"},
		{"keys of shared strings", "let s = repeat('x', 500000); len(map(1..80, s + 'y'))", ErrTooLarge, "the string built by + would allocate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Each limit must trip whatever the machine's speed and load:
			// relax the other, so that a slow run cannot turn ErrTooLarge
			// into ErrTimeout, nor a fast one a loop's ErrTimeout into
			// ErrTooLarge (every step of a loop takes some memory).
			opts := Options{MaxMemoryBytes: 1 << 30}
			if tt.want == ErrTooLarge {
				opts = Options{Timeout: hangGuard}
			}
			start := time.Now()
			_, err := EvalWithOptions(context.Background(), tt.src, env, opts)
			if elapsed := time.Since(start); elapsed > hangGuard {
				t.Errorf("Eval(%q) took %v", tt.src, elapsed)
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, tt.want) {
				t.Fatalf("Eval(%q) error = %v, want an *Error wrapping %v", tt.src, err, tt.want)
			}
			if !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("Eval(%q) message = %q, want it to contain %q", tt.src, e.Msg, tt.msg)
			}
		})
	}
}

// TestLongOperationsPassCheckpoints calls each function that works through a
// large input with a deadline already past: each must notice while it works,
// not only before (function.call's checkpoint is bypassed here).
func TestLongOperationsPassCheckpoints(t *testing.T) {
	t.Parallel()
	strs := make([]any, 100_000)
	lists := make([]any, 100_000)
	for i := range strs {
		strs[i] = fmt.Sprint((i * 7919) % len(strs))
		lists[i] = []any{i}
	}
	text := strings.Repeat("ab,", 100_000)
	jsonText := "[" + strings.Repeat(`{"a":1},`, 20_000) + "0]"
	tests := []struct {
		name string
		call func(r *run) (any, error)
	}{
		{"sort", func(r *run) (any, error) { return sortFn(r, []any{strs}) }},
		{"sortBy", func(r *run) (any, error) { return sortByFn(r, []any{strs, strs, "desc"}) }},
		{"uniq", func(r *run) (any, error) { return uniqFn(r, []any{lists}) }},
		{"join", func(r *run) (any, error) { return joinFn(r, []any{strs, ","}) }},
		{"flatten", func(r *run) (any, error) { return flattenFn(r, []any{lists}) }},
		{".contains()", func(r *run) (any, error) { return containsMethod(r, lists, []any{"x"}) }},
		{".indexOf()", func(r *run) (any, error) { return indexOfMethod(r, lists, []any{"x"}) }},
		{"toJSON", func(r *run) (any, error) { return toJSONIndentFn(r, []any{lists}) }},
		{"#readJson", func(r *run) (any, error) { return readJSONFn(r, []any{jsonText}) }},
		{"matches", func(r *run) (any, error) { return matchesFn(r, []any{text, "(?:[ab]+,)*c"}) }},
		{".split()", func(r *run) (any, error) { return splitMethod(r, text, []any{"[,;]"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &run{ctx: context.Background(), timeout: time.Millisecond, maxBytes: DefaultMaxResultBytes, maxMemory: 1 << 30, env: testEnv()}
			r.expired.Store(true)
			_, err := tt.call(r)
			if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "evaluation took longer than 1ms, its time limit") {
				t.Fatalf("error = %.200v, want the time limit", err)
			}
		})
	}
}

// TestTimeLimitFromTheFirstOperation runs expressions of one or two long
// operations on a big list from the Env: the time limit stops them however
// few checkpoints they pass.
func TestTimeLimitFromTheFirstOperation(t *testing.T) {
	t.Parallel()
	big := make([]any, 150_000)
	for i := range big {
		big[i] = fmt.Sprint((i * 7919) % len(big))
	}
	env := testEnv()
	env.Context = map[string]any{"big": big}
	for _, src := range []string{"sort(big)", "sortBy(big, #)", "uniq(big)", "len(toJSON(big))", "join(big, ',').split(',')"} {
		start := time.Now()
		_, err := EvalWithOptions(context.Background(), src, env, Options{Timeout: time.Millisecond})
		if elapsed := time.Since(start); elapsed > hangGuard {
			t.Errorf("Eval(%q) took %v", src, elapsed)
		}
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("Eval(%q) error = %.200v, want ErrTimeout", src, err)
		}
	}
}

func TestIntegerOverflow(t *testing.T) {
	t.Parallel()
	env := testEnv()
	overflows := []struct{ src, msg string }{
		{"9223372036854775807 + 1", "integer overflow in 9223372036854775807 + 1"},
		{"-9223372036854775807 - 2", "integer overflow in -9223372036854775807 - 2"},
		{"4611686018427387904 * 2", "integer overflow in 4611686018427387904 * 2"},
		{"3037000500 * 3037000500", "integer overflow in 3037000500 * 3037000500"},
		{"(-9223372036854775807 - 1) * -1", "integer overflow in -9223372036854775808 * -1"},
		{"-(-9223372036854775807 - 1)", "integer overflow in -(-9223372036854775808)"},
		{"let x = -9223372036854775807 - 1; -x", "integer overflow in -(-9223372036854775808)"},
		{"abs(-9223372036854775807 - 1)", "integer overflow in abs(-9223372036854775808)"},
		{"sum([9223372036854775807, 1])", "integer overflow in 1 + 9223372036854775807"},
		{"sum(1..3, # * 4611686018427387904)", "integer overflow in 2 * 4611686018427387904"},
		{"sum(1..2, 9223372036854775807)", "integer overflow in 9223372036854775807 + 9223372036854775807"},
		{"reduce(1..64, #acc * 2, 1)", "integer overflow in 4611686018427387904 * 2"},
		{"#toInt('9223372036854775807') + 1", "integer overflow in 9223372036854775807 + 1"},
		{"len(items) + 9223372036854775807", "integer overflow in 3 + 9223372036854775807"},
		{"(-9223372036854775807 - 1) / -1", "integer overflow in -9223372036854775808 / -1"},
	}
	for _, tt := range overflows {
		_, err := Eval(context.Background(), tt.src, env)
		var e *Error
		if !errors.As(err, &e) || !strings.HasPrefix(e.Msg, tt.msg+": the result does not fit in a 64-bit integer") {
			t.Errorf("Eval(%q) error = %v, want %q", tt.src, err, tt.msg)
		}
	}
	fits := []struct {
		src  string
		want any
	}{
		{"9223372036854775806 + 1", 9223372036854775807},
		{"-9223372036854775807 - 1", -9223372036854775807 - 1},
		{"3037000499 * 3037000499", 9223372030926249001},
		{"-3 * 4", -12},
		{"-(-3)", 3},
		{"sum(1..10)", 55},
		{"sum([1.5, 2])", 3.5},
		{"sum(items, 1)", 3},
		{"sum([])", 0},
		{"abs(-5)", 5},
		{"abs(-2.5)", 2.5},
		{"9223372036854775807 + 1.0", 9.223372036854776e18},
		// / divides floats as floats, and % cannot overflow.
		{"(-9223372036854775807 - 1) / -1.0", 9.223372036854776e18},
		{"(-9223372036854775807 - 1) % -1", 0},
		{"sortBy([3, 1, 2], -#)", []any{3, 2, 1}},
	}
	for _, tt := range fits {
		got, err := Eval(context.Background(), tt.src, env)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Eval(%q) = %#v, %v; want %#v", tt.src, got, err, tt.want)
		}
	}
}

// TestConcurrentSlowExpressions evaluates 8 slow expressions at once, twice
// over: loops that run to the time limit, and loops that build strings until
// the memory limit. Each fails with a message naming its limit, and the
// process allocates no more than the evaluations' budgets allow. Not
// parallel: it measures the whole process.
func TestConcurrentSlowExpressions(t *testing.T) {
	env := testEnv()
	srcs := []string{
		"let a = 1..100000; all(a, all(a, true))",
		"len(map(1..1000, repeat('x', 100000)))",
		"'a' matches '(?:' + repeat('a', 3000) + '){1000}'",
		"reduce(1..100000, #acc + 'xxxxxxxxxx', '')",
	}
	before := allocatedBytes()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := srcs[i%len(srcs)]
			start := time.Now()
			_, err := Eval(context.Background(), src, env)
			if elapsed := time.Since(start); elapsed > hangGuard {
				t.Errorf("Eval(%q) took %v", src, elapsed)
			}
			var e *Error
			if !errors.As(err, &e) || !(errors.Is(err, ErrTimeout) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrBusy)) {
				t.Errorf("Eval(%q) error = %v, want a limit", src, err)
				return
			}
			if !strings.Contains(e.Msg, "limit") {
				t.Errorf("Eval(%q) message %q does not name the limit", src, e.Msg)
			}
		}()
	}
	wg.Wait()
	// Each evaluation allocates at most what the fuzz oracle allows one.
	got := allocatedBytes() - before
	t.Logf("8 slow evaluations allocated %d bytes", got)
	if limit := uint64(8 * fuzzMemoryCap); got > limit {
		t.Errorf("8 slow evaluations allocated %d bytes, over %d", got, limit)
	}
}

// TestBusy fills every evaluation slot: an evaluation waits its time limit
// for one, then fails with ErrBusy. Not parallel: it holds the process's
// slots.
func TestBusy(t *testing.T) {
	var releases []func()
	for range cap(slots) {
		release, err := acquire(context.Background(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	_, err := EvalWithOptions(context.Background(), "1 + 1", testEnv(), Options{Timeout: 10 * time.Millisecond})
	want := fmt.Sprintf("%d expressions were already being evaluated, the limit of this process, and none finished within 10ms", cap(slots))
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want ErrBusy: %q", err, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := Eval(ctx, "1 + 1", testEnv()); !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("with the caller's deadline: error = %v, want ErrBusy and context.DeadlineExceeded", err)
	}
	releases[0]()
	if got, err := Eval(context.Background(), "1 + 1", testEnv()); err != nil || got != 2 {
		t.Errorf("with a slot free: %v, %v", got, err)
	}
	for _, release := range releases[1:] {
		release()
	}
}

// allocatedBytes is the heap the process has allocated so far.
func allocatedBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestLongBuiltinsTimeOut checks that operations outside any loop still
// meet the deadline: every comparison checks it.
func TestLongBuiltinsTimeOut(t *testing.T) {
	t.Parallel()
	src := "let a = 1..100000; " + strings.Repeat("a == a && 0 not in a && ", 300) + "true"
	_, err := EvalWithOptions(context.Background(), src, testEnv(), Options{Timeout: time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("error = %.300v, want ErrTimeout", err)
	}
}

func TestRejectedSources(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, msg string }{
		{"deep parentheses", strings.Repeat("(", 1000) + "1" + strings.Repeat(")", 1000), "nests brackets more than 100 deep"},
		{"deep lists", strings.Repeat("[", 500) + strings.Repeat("]", 500), "nests brackets more than 100 deep"},
		{"deep closures", strings.Repeat("map(1..2, ", 101) + "#" + strings.Repeat(")", 101), "nests brackets more than 100 deep"},
		{"unary chain", strings.Repeat("-", 20000) + "1", "expression is too complex (over 3000 syntax nodes)"},
		{"long sum", strings.Repeat("1 + ", 5000) + "1", "expression is too complex"},
		{"long source", "'" + strings.Repeat("x", 40000) + "'", "expression is 40002 bytes long; the limit is 32768"},
	}
	for _, tt := range tests {
		_, err := Eval(context.Background(), tt.src, testEnv())
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: error = %.200v, want it to contain %q", tt.name, err, tt.msg)
		}
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	env := testEnv()
	loop := "let a = 1..100000; all(a, all(a, true))"

	_, err := EvalWithOptions(context.Background(), loop, env, Options{Timeout: 5 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "longer than 5ms") {
		t.Errorf("Timeout option: error = %v", err)
	}

	// The context ends before the evaluation starts: what it reports must
	// not depend on how busy the machine is (with a few milliseconds'
	// grace, a loaded machine hit the memory limit first).
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = EvalWithOptions(ctx, loop, env, Options{Timeout: time.Hour})
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("context deadline: error = %v, want ErrTimeout and context.DeadlineExceeded", err)
	}

	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	_, err = EvalWithOptions(cctx, loop, env, Options{Timeout: time.Hour})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: error = %v, want context.Canceled", err)
	}

	if _, err := EvalWithOptions(context.Background(), "repeat('x', 11)", env, Options{MaxResultBytes: 10}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxResultBytes option: error = %v, want ErrTooLarge", err)
	}
	if got, err := EvalWithOptions(context.Background(), "repeat('x', 10)", env, Options{MaxResultBytes: 12}); err != nil || got != "xxxxxxxxxx" {
		t.Errorf("MaxResultBytes option: %v, %v", got, err)
	}

	_, sum := ResolveWithOptions(context.Background(), map[string]any{"a": "${repeat('x', 8)}-${repeat('y', 8)}"}, env, Options{MaxResultBytes: 12})
	if len(sum.Failures) != 1 || !strings.Contains(sum.Failures[0].Msg, "the interpolated string is larger than the 12-byte limit") {
		t.Errorf("ResolveWithOptions size: failures = %v", sum.Failures)
	}
}

// Resource oracle of FuzzEval: whatever the input, an evaluation finishes
// within twice its time limit and allocates at most fuzzMemoryCap bytes,
// both measured by the runtime and the kernel, not by the evaluator's own
// accounting. The cap is the memory budget, expr's own list elements (up to
// maxElements, about 100 bytes each with the VM's stack), and what the
// budget's estimates leave out (boxed numbers, a string's header …), which
// in a loop can come to as much again. The deadline is wall-clock time, and on a
// machine with more work than processors an evaluation can be kept off a
// processor for longer than its limit; the oracle counts time as broken when
// both the wall-clock time and the CPU time the process spent are over twice
// the limit, so that only work the evaluator did in the meantime counts.
const (
	fuzzTimeout   = DefaultTimeout
	fuzzMemoryCap = 3 * DefaultMaxMemoryBytes
)

// usage is what one evaluation took.
type usage struct {
	wall, cpu time.Duration
	allocated uint64
}

// measure runs fn and reports what it took.
func measure(fn func()) usage {
	before, start := allocatedBytes(), time.Now()
	cpu, measured := processCPU()
	fn()
	u := usage{wall: time.Since(start), allocated: allocatedBytes() - before}
	if after, _ := processCPU(); measured {
		u.cpu = after - cpu
	} else {
		u.cpu = u.wall
	}
	return u
}

// overLimits reports how an evaluation broke the oracle, or "".
func overLimits(u usage) string {
	var over []string
	if u.wall > 2*fuzzTimeout && u.cpu > 2*fuzzTimeout {
		over = append(over, fmt.Sprintf("took %v (%v of CPU), over twice the %v time limit", u.wall, u.cpu, fuzzTimeout))
	}
	if u.allocated > fuzzMemoryCap {
		over = append(over, fmt.Sprintf("allocated %d bytes, over the cap of %d", u.allocated, fuzzMemoryCap))
	}
	return strings.Join(over, " and ")
}

// TestResourceOracleCanFail checks that the oracle's measurements see time
// and memory: an oracle that cannot fail would pass every fuzz run.
func TestResourceOracleCanFail(t *testing.T) {
	var sink []byte
	u := measure(func() {
		sink = make([]byte, 2*fuzzMemoryCap)
		sink[len(sink)-1] = 1
		for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
			sink[0]++ // spin, to be seen using CPU
		}
	})
	if msg := overLimits(u); !strings.Contains(msg, "over the cap") {
		t.Errorf("allocating %d bytes: oracle says %q", len(sink), msg)
	}
	if u.cpu <= 0 {
		t.Errorf("spinning for 20ms: %v of CPU measured", u.cpu)
	}
	if msg := overLimits(usage{wall: 3 * fuzzTimeout, cpu: 3 * fuzzTimeout}); !strings.Contains(msg, "over twice the") {
		t.Errorf("taking three times the limit: oracle says %q", msg)
	}
	if msg := overLimits(usage{wall: 3 * fuzzTimeout, cpu: fuzzTimeout, allocated: 1 << 20}); msg != "" {
		t.Errorf("kept off a processor: oracle says %q", msg)
	}
}

// fuzzSeeds are FuzzEval's seed corpus: ordinary expressions, rejected
// ones, and the attacks of this file.
var fuzzSeeds = []string{
	"items.?[#this != 'a'].![#this + '!']", "nested.list.^[name == 'x'].name", "nums.$[#this > 1]",
	"{1, 2, {3, {}}}.![#this]", "(1..100000).![(1..100000).?[#this == 1]]", "{:}", "7 / 2 + 7.0 / 2",
	"nested.list.![{name: name, n: #root.waitTime / 4}]", "trigger.?[x]", ".?[x]", "items.?[", "#pipelineId('x')",
	"trigger.parameters.env", "#stage('Build').outputs.version", "#judgment('Approve') == 'promote'",
	"parameters.empty ?: 'x'", "map(items, # + '!')", "'a' + 1", "items.size() > 1 and true",
	"repeat('x', 1e9)", "let a = 1..100000; all(a, all(a, true))", "reduce(1..100, #acc + #acc, 'x')",
	"T(java.lang.Runtime)", "new Foo()", "#root.execution.id", "'it''s' matches '.*'", "{'a': [1, {b: null}]}",
	"nested?.k?.trim()", "toJSON(nums) + string(items)", "flatten([[1], [[2]]])", "1..3 | map(# * 2) | sum()",
	"#toInt('7') / 2", "$env", "a ? b : c ?: d", "filter(#stage('Wait').outputs | keys(), true)",
	// The attacks of limits_test.go.
	"'a' matches '(?:' + repeat('a', 3000) + '){1000}'", "len(map(1..1000, repeat('x', 100000)))",
	"reduce(1..100000, #acc + 'xxxxxxxxxx', '')", "len(fromJSON('[' + repeat('{\"\":0},', 140000) + '0]'))",
	"toJSON(reduce(1..150, [#acc], 1..50000))", "9223372036854775807 + 1", "sortBy(map(1..60000, -#), #)",
	"repeat('ab', 2000).split('(?:(a|b)?){400}x')", "count(1..1000, 'a' matches '(?:abc){1000}' + #)",
	"let s = repeat('x', 1000000); len(map(1..100, upper(s)))", "len(#readJson('[' + repeat('[1,\"a\"],', 100000) + '0]'))",
	"len(repeat('ab,', 300000).split('[,;]'))", "repeat('ab,', 300000) matches '(?:[ab]+,)*c'",
	"len(sort(map(1..60000, string(# * 7919 % 60000))))", "uniq(map(1..60000, [#]))", "abs(-9223372036854775807 - 1)",
	"toJSON([repeat(#fromBase64('AQ=='), 999000)])", "'a' matches repeat('(?i:[^\\pLa-z])', 16)",
	"count(1..1000, 'a' matches repeat('(?i:[^\\pLa-z])', 16) + #)",
	"let a = 1..100000; all(a, all(a, max(" + strings.Repeat("1, ", 999) + "1) > 0))",
}

func FuzzEval(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	env := testEnv()
	opts := Options{Timeout: fuzzTimeout}
	f.Fuzz(func(t *testing.T, src string) {
		var v any
		var err error
		u := measure(func() { v, err = EvalWithOptions(context.Background(), src, env, opts) })
		if msg := overLimits(u); msg != "" {
			t.Fatalf("Eval(%q) %s (error: %.200v)", src, msg, err)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Msg == "" {
				t.Fatalf("Eval(%q) error %v is not an *Error with a message", src, err)
			}
			return
		}
		b, jerr := json.Marshal(v)
		if jerr != nil {
			t.Fatalf("Eval(%q) = %#v, which is not JSON: %v", src, v, jerr)
		}
		if len(b) > 2*DefaultMaxResultBytes {
			t.Fatalf("Eval(%q) returned %d bytes of JSON", src, len(b))
		}
	})
}

// TestSplitRegexp checks that splitting one match at a time, as splitRegexp
// does so that it can pass checkpoints, cuts where regexp's Split does.
func TestSplitRegexp(t *testing.T) {
	t.Parallel()
	patterns := []string{`x*`, `a|`, `(?:)`, `\d+`, `[,;]\s*`, `é?`, `$`, `(a)(b)?`, `.`, `a??`, `\s*`, `(?i)A`, `b*?`, `\z`, `(?s).`}
	inputs := []string{"", "a", "abc", "a,b;;c, d", "ééaé", "1a22b333", "xxaxx", "aab ab\nb", "\xffa\xfe"}
	for _, expr := range patterns {
		r := &run{ctx: context.Background(), maxBytes: DefaultMaxResultBytes, maxMemory: 1 << 30, env: testEnv()}
		p, err := r.regexp(expr, false)
		if err != nil {
			t.Fatal(err)
		}
		if p.context {
			t.Fatalf("%q: want a pattern that does not look behind", expr)
		}
		for _, s := range inputs {
			got, err := r.splitRegexp(p, s)
			if want := p.re.Split(s, -1); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("split %q by %q = %q, %v; want %q", s, expr, got, err, want)
			}
		}
	}
}

// TestFuzzCorpusWorst measures every input of a FuzzEval corpus directory
// (SLUICE_EXPR_CORPUS, such as $(go env GOCACHE)/fuzz/github.com/sluice-cd/sluice/internal/expr/FuzzEval)
// and the seeds, as the oracle does, and reports the slowest, the one that
// used the most CPU and the most allocating, for docs/benchmarks.md.
// Skipped without the variable.
func TestFuzzCorpusWorst(t *testing.T) {
	dir := os.Getenv("SLUICE_EXPR_CORPUS")
	if dir == "" {
		t.Skip("set SLUICE_EXPR_CORPUS to a FuzzEval corpus directory")
	}
	srcs := slices.Clone(fuzzSeeds)
	for _, d := range []string{dir, filepath.Join("testdata", "fuzz", "FuzzEval")} {
		entries, _ := os.ReadDir(d)
		for _, entry := range entries {
			b, err := os.ReadFile(filepath.Join(d, entry.Name()))
			if err != nil {
				t.Fatal(err)
			}
			_, arg, ok := strings.Cut(string(b), "\nstring(")
			if src, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(arg), ")"))); ok && err == nil {
				srcs = append(srcs, src)
			}
		}
	}
	type use struct {
		src string
		usage
	}
	var slowest, busiest, hungriest use
	env := testEnv()
	for _, src := range srcs {
		var err error
		u := use{src, measure(func() { _, err = EvalWithOptions(context.Background(), src, env, Options{Timeout: fuzzTimeout}) })}
		if msg := overLimits(u.usage); msg != "" {
			t.Errorf("Eval(%q) %s (error: %.200v)", src, msg, err)
		}
		if u.wall > slowest.wall {
			slowest = u
		}
		if u.cpu > busiest.cpu {
			busiest = u
		}
		if u.allocated > hungriest.allocated {
			hungriest = u
		}
	}
	t.Logf("%d inputs", len(srcs))
	for _, u := range []struct {
		what string
		use
	}{{"slowest", slowest}, {"most CPU", busiest}, {"most allocating", hungriest}} {
		t.Logf("%s: %q: %v (%v of CPU), %d bytes allocated", u.what, u.src, u.wall, u.cpu, u.allocated)
	}
}
