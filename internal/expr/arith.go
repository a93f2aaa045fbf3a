package expr

import (
	"math"
	"reflect"
	"strconv"

	"github.com/expr-lang/expr/vm/runtime"
)

// Checked integer arithmetic. expr computes + - * and unary minus on Go
// ints, which wrap silently; the sandbox compiles those operators into the
// functions here, which do the same as expr except that an integer result
// that does not fit in 64 bits is an error. / divides as Java does, which
// SpEL follows: two integers give an integer truncated toward zero (7 / 2 is
// 3), anything else divides as floats (7.0 / 2 is 3.5); the result of % is
// smaller than its divisor, so it cannot overflow. Numbers from JSON are float64 and overflow to ±Inf,
// which a result cannot hold (see normalize).

// arith applies + - or * (op) to two numbers.
func arith(op string, a, b any) (any, error) {
	x, xInt, xBig := integer(a)
	y, yInt, yBig := integer(b)
	if xInt && yInt {
		z, ok := 0, !xBig && !yBig
		if ok {
			switch op {
			case "+":
				z = x + y
				ok = (z > x) == (y > 0) || y == 0
			case "-":
				z = x - y
				ok = (z < x) == (y > 0) || y == 0
			case "*":
				z = x * y
				ok = x == 0 || y == 0 || (z/y == x && (z < 0) == ((x < 0) != (y < 0)))
			}
		}
		if !ok {
			return nil, overflow(format(a) + " " + op + " " + format(b))
		}
		return z, nil
	}
	switch op {
	case "+":
		return runtime.Add(a, b), nil
	case "-":
		return runtime.Subtract(a, b), nil
	}
	return runtime.Multiply(a, b), nil
}

func overflow(what string) error {
	return errorf("integer overflow in %s: the result does not fit in a 64-bit integer; use a float (such as 1.0 * x) for numbers this large", what)
}

// integer reads a Go integer of any size as an int; big reports an
// unsigned value over math.MaxInt.
func integer(v any) (n int, ok, big bool) {
	switch x := v.(type) {
	case int:
		return x, true, false
	case int8, int16, int32, int64:
		return int(reflect.ValueOf(v).Int()), true, false
	case uint, uint8, uint16, uint32, uint64, uintptr:
		u := reflect.ValueOf(v).Uint()
		return int(u), true, u > math.MaxInt
	}
	return 0, false, false
}

// subFn is a - b.
func subFn(r *run, args []any) (any, error) {
	if len(args) != 2 {
		return nil, errorf("$sub takes two arguments")
	}
	return arith("-", args[0], args[1])
}

// mulFn is a * b.
func mulFn(r *run, args []any) (any, error) {
	if len(args) != 2 {
		return nil, errorf("$mul takes two arguments")
	}
	return arith("*", args[0], args[1])
}

// negFn is -a.
func negFn(r *run, args []any) (any, error) {
	if len(args) != 1 {
		return nil, errorf("$neg takes one argument")
	}
	x, isInt, big := integer(args[0])
	switch {
	case !isInt:
		return runtime.Negate(args[0]), nil
	case big || x == math.MinInt:
		return nil, overflow("-(" + format(args[0]) + ")")
	}
	return -x, nil
}

// sumAddFn is one step of sum(list[, predicate]), which the sandbox
// compiles into reduce(list, $sumAdd(#acc, …), 0): expr's own sum adds
// with its unchecked +, and adds each element to the running sum in that
// order.
func sumAddFn(r *run, args []any) (any, error) {
	if len(args) != 2 {
		return nil, errorf("$sumAdd takes two arguments")
	}
	return arith("+", args[1], args[0])
}

// absFn checks the result of expr's abs, which wraps for the smallest
// integer: abs(-9223372036854775808) is negative.
func absFn(r *run, args []any) (any, error) {
	if len(args) != 1 {
		return nil, errorf("$abs takes one argument")
	}
	if x, isInt, _ := integer(args[0]); isInt && x < 0 {
		return nil, overflow("abs(" + strconv.Itoa(x) + ")")
	}
	return args[0], nil
}

// divFn is a / b: Java's integer division when both are integers (by zero
// is an error, as in Java), else expr's float division.
func divFn(r *run, args []any) (any, error) {
	if len(args) != 2 {
		return nil, errorf("$div takes two arguments")
	}
	x, xInt, xBig := integer(args[0])
	y, yInt, yBig := integer(args[1])
	if !xInt || !yInt {
		return runtime.Divide(args[0], args[1]), nil
	}
	switch {
	case xBig || yBig || (x == math.MinInt && y == -1):
		return nil, overflow(format(args[0]) + " / " + format(args[1]))
	case y == 0:
		return nil, errorf("division by zero in %s / 0; divide by a float (such as %s / 0.0) for Infinity", format(args[0]), format(args[0]))
	}
	return x / y, nil
}
