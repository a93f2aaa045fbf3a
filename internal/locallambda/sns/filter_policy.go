package sns

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Filter policies, as SNS evaluates them. A policy is a JSON object whose
// keys are message attribute names (scope MessageAttributes) or paths
// into a JSON message body (scope MessageBody, where objects nest). Every
// key must match (AND); a key matches when any of its conditions matches
// any of its values (OR); "$or" takes two or more policies of which one
// must match. Conditions: a string, number, true, false or null (exact),
// and objects {"prefix": s}, {"suffix": s}, {"equals-ignore-case": s},
// {"anything-but": value | [values] | {"prefix": s} | {"suffix": s}},
// {"numeric": [op, n(, op, n)]}, {"exists": bool}, {"cidr": "10.0.0.0/8"}.
// An array value (String.Array, or an array in the body) matches when
// one of its elements does.

// Scopes of a filter policy (FilterPolicyScope).
const (
	scopeAttributes = "MessageAttributes"
	scopeBody       = "MessageBody"
)

// Filter-policy limits, as AWS documents them.
const (
	maxPolicyKeys         = 5   // keys (attribute names or body paths) in one policy
	maxPolicyCombinations = 150 // product of the values of its keys, summed over $or
	maxPolicyBytes        = 256 * 1024
	maxPolicyNumber       = 1e9
)

// filterPolicy is a parsed filter policy.
type filterPolicy struct {
	root andNode
}

// andNode matches when all its entries do.
type andNode struct {
	entries []policyEntry
}

// policyEntry is a key path with its conditions, or an $or of policies.
type policyEntry struct {
	path  []string
	conds []condition
	or    []andNode
}

type condKind int

const (
	condExact condKind = iota // value: string, float64, bool or nil
	condPrefix
	condSuffix
	condEqualsIgnoreCase
	condAnythingBut // values, or prefix/suffix in str with sub
	condNumeric
	condExists
	condCIDR
)

type condition struct {
	kind  condKind
	value any // condExact; condExists: bool
	str   string
	sub   condKind // condAnythingBut: condExact (values), condPrefix or condSuffix
	vals  []any    // condAnythingBut values
	ops   []numericOp
	cidr  netip.Prefix
}

type numericOp struct {
	op string
	n  float64
}

// policyError is an invalid filter policy; its text follows "Invalid
// parameter: FilterPolicy: ".
type policyError struct{ msg string }

func (e *policyError) Error() string { return e.msg }

func badPolicy(format string, args ...any) error {
	return &policyError{fmt.Sprintf(format, args...)}
}

// parseFilterPolicy parses and checks a filter policy for scope.
func parseFilterPolicy(text, scope string) (*filterPolicy, error) {
	if len(text) > maxPolicyBytes {
		return nil, badPolicy("Filter policy is too long: at most %d bytes", maxPolicyBytes)
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, badPolicy("Filter policy is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, badPolicy("Filter policy is not valid JSON: text after the policy object")
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, badPolicy("Filter policy must be a JSON object")
	}
	root, err := parseAnd(obj, nil, scope, 0)
	if err != nil {
		return nil, err
	}
	fp := &filterPolicy{root: root}
	if n := fp.root.keys(); n > maxPolicyKeys {
		return nil, badPolicy("Filter policy can not have more than %d keys", maxPolicyKeys)
	}
	if n := fp.root.combinations(); n > maxPolicyCombinations {
		return nil, badPolicy("Filter policy is too complex: %d combinations, at most %d", n, maxPolicyCombinations)
	}
	return fp, nil
}

func parseAnd(obj map[string]any, prefix []string, scope string, depth int) (andNode, error) {
	var n andNode
	if depth > 16 {
		return n, badPolicy("Filter policy is nested too deeply")
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		v := obj[k]
		if k == "$or" {
			arr, ok := v.([]any)
			if !ok || len(arr) < 2 {
				return n, badPolicy("$or must be an array of at least two policy objects")
			}
			e := policyEntry{}
			for _, el := range arr {
				sub, ok := el.(map[string]any)
				if !ok {
					return n, badPolicy("$or must be an array of at least two policy objects")
				}
				a, err := parseAnd(sub, prefix, scope, depth+1)
				if err != nil {
					return n, err
				}
				e.or = append(e.or, a)
			}
			n.entries = append(n.entries, e)
			continue
		}
		path := append(slices.Clone(prefix), k)
		switch v := v.(type) {
		case []any:
			conds, err := parseConditions(k, v)
			if err != nil {
				return n, err
			}
			n.entries = append(n.entries, policyEntry{path: path, conds: conds})
		case map[string]any:
			if scope == scopeAttributes {
				return n, badPolicy("Filter policy scope MessageAttributes does not support nested filter policy")
			}
			sub, err := parseAnd(v, path, scope, depth+1)
			if err != nil {
				return n, err
			}
			n.entries = append(n.entries, sub.entries...)
		default:
			return n, badPolicy("%q must be an object or an array", k)
		}
	}
	return n, nil
}

func parseConditions(key string, arr []any) ([]condition, error) {
	if len(arr) == 0 {
		return nil, badPolicy("Empty arrays are not allowed: %q", key)
	}
	var out []condition
	for _, el := range arr {
		switch v := el.(type) {
		case string, bool, nil:
			out = append(out, condition{kind: condExact, value: v})
		case json.Number:
			f, err := policyNumber(v)
			if err != nil {
				return nil, err
			}
			out = append(out, condition{kind: condExact, value: f})
		case map[string]any:
			c, err := parseOperator(v)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		default:
			return nil, badPolicy("Match value must be String, number, true, false, or null")
		}
	}
	return out, nil
}

func policyNumber(v json.Number) (float64, error) {
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.Abs(f) > maxPolicyNumber {
		return 0, badPolicy("Numeric values must be within -1000000000 and 1000000000: %s", v)
	}
	return f, nil
}

func parseOperator(obj map[string]any) (condition, error) {
	if len(obj) != 1 {
		return condition{}, badPolicy("Match object must have exactly one operator")
	}
	var op string
	var arg any
	for k, v := range obj {
		op, arg = k, v
	}
	str := func() (string, error) {
		s, ok := arg.(string)
		if !ok {
			return "", badPolicy("Value of %s must be a string", op)
		}
		return s, nil
	}
	switch op {
	case "prefix", "suffix", "equals-ignore-case":
		s, err := str()
		if err != nil {
			return condition{}, err
		}
		kind := map[string]condKind{"prefix": condPrefix, "suffix": condSuffix, "equals-ignore-case": condEqualsIgnoreCase}[op]
		return condition{kind: kind, str: s}, nil
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return condition{}, badPolicy("exists match pattern must be either true or false.")
		}
		return condition{kind: condExists, value: b}, nil
	case "cidr":
		s, err := str()
		if err != nil {
			return condition{}, err
		}
		p, perr := netip.ParsePrefix(s)
		if perr != nil {
			return condition{}, badPolicy("Malformed CIDR, one '/' required: %q", s)
		}
		return condition{kind: condCIDR, cidr: p.Masked()}, nil
	case "numeric":
		return parseNumeric(arg)
	case "anything-but":
		return parseAnythingBut(arg)
	default:
		return condition{}, badPolicy("Unrecognized match type %s", op)
	}
}

func parseNumeric(arg any) (condition, error) {
	arr, ok := arg.([]any)
	if !ok || len(arr) == 0 || len(arr)%2 != 0 || len(arr) > 4 {
		return condition{}, badPolicy("Value of numeric must be an array of an operator and a number, or two of them for a range")
	}
	c := condition{kind: condNumeric}
	for i := 0; i < len(arr); i += 2 {
		op, ok := arr[i].(string)
		if !ok || !slices.Contains([]string{"=", "<", "<=", ">", ">="}, op) {
			return condition{}, badPolicy("Unrecognized numeric range operator: %v", arr[i])
		}
		num, ok := arr[i+1].(json.Number)
		if !ok {
			return condition{}, badPolicy("Value of %s must be numeric", op)
		}
		f, err := policyNumber(num)
		if err != nil {
			return condition{}, err
		}
		c.ops = append(c.ops, numericOp{op, f})
	}
	if len(c.ops) == 2 {
		lo, hi := c.ops[0], c.ops[1]
		if (lo.op != ">" && lo.op != ">=") || (hi.op != "<" && hi.op != "<=") {
			return condition{}, badPolicy("Too many elements in numeric expression: a range is a lower bound (> or >=) then an upper bound (< or <=)")
		}
		if lo.n >= hi.n {
			return condition{}, badPolicy("Bottom must be less than top")
		}
	}
	return c, nil
}

func parseAnythingBut(arg any) (condition, error) {
	c := condition{kind: condAnythingBut, sub: condExact}
	switch v := arg.(type) {
	case string:
		c.vals = []any{v}
	case json.Number:
		f, err := policyNumber(v)
		if err != nil {
			return c, err
		}
		c.vals = []any{f}
	case []any:
		if len(v) == 0 {
			return c, badPolicy("Empty arrays are not allowed: anything-but")
		}
		for _, el := range v {
			switch e := el.(type) {
			case string:
				c.vals = append(c.vals, e)
			case json.Number:
				f, err := policyNumber(e)
				if err != nil {
					return c, err
				}
				c.vals = append(c.vals, f)
			default:
				return c, badPolicy("Inside anything but list, start|null|boolean is not supported.")
			}
		}
	case map[string]any:
		if len(v) != 1 {
			return c, badPolicy("Value of anything-but must be an array or single string/number value.")
		}
		for k, x := range v {
			s, ok := x.(string)
			if !ok || (k != "prefix" && k != "suffix") {
				return c, badPolicy("Unsupported anything-but pattern: %s", k)
			}
			c.sub = map[string]condKind{"prefix": condPrefix, "suffix": condSuffix}[k]
			c.str = s
		}
	default:
		return c, badPolicy("Value of anything-but must be an array or single string/number value.")
	}
	return c, nil
}

// keys counts the keys of the policy's largest branch.
func (n andNode) keys() int {
	k := 0
	for _, e := range n.entries {
		if e.or != nil {
			m := 0
			for _, a := range e.or {
				m = max(m, a.keys())
			}
			k += m
			continue
		}
		k++
	}
	return k
}

// combinations is AWS's complexity measure: the product of the number of
// values of each key, with the branches of $or added.
func (n andNode) combinations() int {
	total := 1
	for _, e := range n.entries {
		c := len(e.conds)
		if e.or != nil {
			c = 0
			for _, a := range e.or {
				c += a.combinations()
			}
		}
		total *= max(c, 1)
		if total > maxPolicyCombinations*maxPolicyCombinations {
			return total
		}
	}
	return total
}

// valueSource gives the values at a key path and whether the key is
// present.
type valueSource func(path []string) (values []any, present bool)

// matches tells whether a message with these values passes the policy.
func (fp *filterPolicy) matches(src valueSource) bool {
	return fp.root.matches(src)
}

func (n andNode) matches(src valueSource) bool {
	for _, e := range n.entries {
		if !e.matches(src) {
			return false
		}
	}
	return true
}

func (e policyEntry) matches(src valueSource) bool {
	if e.or != nil {
		for _, a := range e.or {
			if a.matches(src) {
				return true
			}
		}
		return false
	}
	values, present := src(e.path)
	for _, c := range e.conds {
		if c.kind == condExists {
			if c.value.(bool) == present {
				return true
			}
			continue
		}
		if !present {
			continue
		}
		for _, v := range values {
			if c.matches(v) {
				return true
			}
		}
	}
	return false
}

func (c condition) matches(v any) bool {
	switch c.kind {
	case condExact:
		return sameValue(c.value, v)
	case condPrefix:
		s, ok := v.(string)
		return ok && strings.HasPrefix(s, c.str)
	case condSuffix:
		s, ok := v.(string)
		return ok && strings.HasSuffix(s, c.str)
	case condEqualsIgnoreCase:
		s, ok := v.(string)
		return ok && strings.EqualFold(s, c.str)
	case condAnythingBut:
		switch c.sub {
		case condPrefix:
			s, ok := v.(string)
			return ok && !strings.HasPrefix(s, c.str)
		case condSuffix:
			s, ok := v.(string)
			return ok && !strings.HasSuffix(s, c.str)
		}
		for _, x := range c.vals {
			if sameValue(x, v) {
				return false
			}
		}
		return true
	case condNumeric:
		f, ok := v.(float64)
		if !ok {
			return false
		}
		for _, o := range c.ops {
			if !compare(o.op, f, o.n) {
				return false
			}
		}
		return true
	case condCIDR:
		s, ok := v.(string)
		if !ok {
			return false
		}
		ip, err := netip.ParseAddr(s)
		return err == nil && c.cidr.Contains(ip)
	}
	return false
}

// sameValue compares a policy value with a message value; numbers
// compare to AWS's five decimal places.
func sameValue(want, got any) bool {
	switch w := want.(type) {
	case float64:
		g, ok := got.(float64)
		return ok && math.Abs(w-g) < 0.000005
	case nil:
		return got == nil
	default:
		return want == got
	}
}

func compare(op string, a, b float64) bool {
	switch op {
	case "=":
		return math.Abs(a-b) < 0.000005
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	}
	return false
}

// attributeSource gives a message's attributes to a policy of scope
// MessageAttributes: a String attribute is a string, a Number a number,
// a String.Array its elements; a Binary attribute is present but has no
// value a condition can match.
func attributeSource(attrs map[string]MessageAttribute) valueSource {
	return func(path []string) ([]any, bool) {
		if len(path) != 1 {
			return nil, false
		}
		a, ok := attrs[path[0]]
		if !ok {
			return nil, false
		}
		base, _, _ := strings.Cut(a.DataType, ".")
		switch {
		case a.DataType == "String.Array":
			var arr []any
			if json.Unmarshal([]byte(a.StringValue), &arr) != nil {
				return nil, true
			}
			return arr, true
		case base == "Number":
			f, err := strconv.ParseFloat(a.StringValue, 64)
			if err != nil {
				return nil, true
			}
			return []any{f}, true
		case base == "String":
			return []any{a.StringValue}, true
		}
		return nil, true
	}
}

// bodySource gives a JSON message body to a policy of scope MessageBody;
// a body that is not a JSON object has no keys.
func bodySource(message string) valueSource {
	var doc any
	dec := json.NewDecoder(bytes.NewReader([]byte(message)))
	if err := dec.Decode(&doc); err != nil {
		doc = nil
	}
	return func(path []string) ([]any, bool) {
		cur := []any{doc}
		for _, k := range path {
			var next []any
			for _, v := range flatten(cur) {
				if obj, ok := v.(map[string]any); ok {
					if x, ok := obj[k]; ok {
						next = append(next, x)
					}
				}
			}
			if len(next) == 0 {
				return nil, false
			}
			cur = next
		}
		return flatten(cur), true
	}
}

// flatten replaces arrays by their elements.
func flatten(vs []any) []any {
	var out []any
	for _, v := range vs {
		if arr, ok := v.([]any); ok {
			out = append(out, flatten(arr)...)
			continue
		}
		out = append(out, v)
	}
	return out
}
