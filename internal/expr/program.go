package expr

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	exprlang "github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

const (
	// maxNodes bounds the syntax tree of one expression.
	maxNodes = 3000
	// runKey is the variable through which functions reach the evaluation's
	// state. The sandbox patcher inserts it; no expression can spell it.
	runKey = "#run"
)

// disabledBuiltins are expr builtins an expression may not call: time
// functions (they return Go values with methods, and timezone reads the
// zoneinfo files), and builtins replaced by size-checked versions of the
// same name (see builtins.go).
var disabledBuiltins = []string{
	"now", "date", "duration", "timezone",
	"repeat", "join", "replace", "concat", "flatten", "uniq", "toJSON", "string",
	"split", "splitAfter", "sort", "fromJSON",
}

// program is a compiled expression, shared by every evaluation of the same
// source.
type program struct {
	prog  *vm.Program
	roots []string // every name the expression reads, to look up in the Env
	names []string // roots not bound by a let (for "not defined" hints)
	err   *syntaxError
}

// compileOptions are built once; expr copies what it needs per compile.
var compileOptions = func() []exprlang.Option {
	opts := []exprlang.Option{
		exprlang.Env(map[string]any{}),
		exprlang.AllowUndefinedVariables(),
		exprlang.MaxNodes(maxNodes),
	}
	for _, name := range disabledBuiltins {
		opts = append(opts, exprlang.DisableBuiltin(name))
	}
	for name, fn := range functions {
		opts = append(opts, exprlang.Function(name, fn.call))
	}
	return opts
}()

// compile translates and compiles one expression body. It never panics.
func compile(body string) (p *program) {
	defer func() {
		if r := recover(); r != nil {
			p = &program{err: &syntaxError{pos: -1, msg: fmt.Sprintf("expression could not be compiled: %v", r)}}
		}
	}()
	if strings.TrimSpace(body) == "" {
		return &program{err: &syntaxError{pos: -1, msg: "empty expression; put an expression between ${ and }"}}
	}
	t, serr := translate(body)
	if serr != nil {
		return &program{err: serr}
	}
	s := &sandbox{elvis: t.elvis, names: map[string]bool{}, lets: map[string]bool{}, rewritten: map[int]string{}}
	opts := append(compileOptions[:len(compileOptions):len(compileOptions)], exprlang.Patch(s))
	prog, err := exprlang.Compile(t.src, opts...)
	if s.err != nil {
		s.err.pos = bodyOffset(t, body, s.errAt)
		return &program{err: s.err}
	}
	if err != nil {
		return &program{err: compileError(err, t, body, s.rewritten)}
	}
	roots := slices.Sorted(maps.Keys(s.names))
	var names []string
	for _, name := range roots {
		if !s.lets[name] {
			names = append(names, name)
		}
	}
	return &program{prog: prog, roots: roots, names: names}
}

func bodyOffset(t *translation, body string, at int) int {
	if at < 0 {
		return -1
	}
	return t.bodyPos(at, body)
}

// compileError turns an expr compile error into a one-line message with a
// column in the expression as written.
func compileError(err error, t *translation, body string, rewritten map[int]string) *syntaxError {
	fe, ok := err.(*file.Error)
	if !ok {
		return &syntaxError{pos: -1, msg: err.Error()}
	}
	msg := fe.Message
	if name, ok := rewritten[fe.From]; ok {
		// sum and sortBy are compiled as reduce and map (see sandbox).
		msg = strings.Replace(strings.Replace(msg, "builtin reduce ", "builtin "+name+" ", 1), "builtin map ", "builtin "+name+" ", 1)
	}
	switch {
	case strings.Contains(msg, "exceeds maximum allowed nodes"):
		return &syntaxError{pos: -1, msg: fmt.Sprintf("expression is too complex (over %d syntax nodes); split it up", maxNodes)}
	case strings.HasPrefix(msg, "unexpected token EOF"), strings.HasPrefix(msg, "unexpected end"):
		return &syntaxError{pos: len(body), msg: "the expression ends too early; is an operand or a closing bracket missing?"}
	case msg == `unexpected token Operator("=")`:
		msg += "; use == to compare (expressions cannot assign)"
	case msg == `unexpected token Operator(",")` && strings.Contains(body, "{"):
		msg += "; write a list as {a, b} or [a, b] and a map as {key: value}"
	}
	return &syntaxError{pos: t.bodyPos(fe.From, body), msg: msg}
}

// column is the 1-based character column of byte offset pos in body.
func column(body string, pos int) int {
	return utf8.RuneCountInString(body[:min(pos, len(body))]) + 1
}

// sandbox is the expr patcher that makes an expression safe to run. It
// walks the tree bottom-up and:
//
//   - rejects $env, calls of anything but registered functions, and method
//     calls other than the Java-style string/list methods in methods.go
//   - passes the evaluation state (runKey) to every registered function
//   - rewrites +, matches and SpEL's ?: to their Spinnaker-compatible
//     functions ($add, $matches, $nonEmpty)
//   - rewrites - * and unary minus to checked arithmetic ($sub, $mul,
//     $neg; see arith.go), sum to a reduce that adds with $sumAdd, and
//     checks the result of abs ($abs)
//   - rewrites sortBy to $sortBy over the keys computed by map, so that
//     the sort itself passes checkpoints
//   - wraps every closure body, builtin call and comparison in $tick, which
//     enforces the deadline, so no loop or long builtin can outrun it, and
//     the builtins that build strings, lists or maps in $charge, which
//     charges what they built to the memory budget too
type sandbox struct {
	elvis map[int]bool    // rune offsets of ?? operators that were ?:
	names map[string]bool // identifiers read
	lets  map[string]bool // names bound by let
	// rewritten maps the offset of the list argument of a rewritten
	// builtin to its name, to name it in the checker's messages.
	rewritten map[int]string
	n         int // counter for generated variable names
	err       *syntaxError
	errAt     int // rune offset of err in the translated source
}

func (s *sandbox) fail(n ast.Node, format string, args ...any) {
	if s.err == nil {
		s.err = &syntaxError{msg: fmt.Sprintf(format, args...)}
		s.errAt = n.Location().From
	}
}

func (s *sandbox) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value == "$env" {
			s.fail(n, "$env is not available; refer to trigger, parameters, execution or a context key by name")
			return
		}
		if _, ok := functions[n.Value]; !ok {
			s.names[n.Value] = true
		}

	case *ast.VariableDeclaratorNode:
		s.lets[n.Name] = true

	case *ast.CallNode:
		switch callee := n.Callee.(type) {
		case *ast.IdentifierNode:
			if _, ok := functions[callee.Value]; !ok {
				s.fail(n, "unknown function %s(); expressions can call the builtins and the # helpers (%s)", callee.Value, spelFunctionList())
				return
			}
			n.Arguments = append([]ast.Node{runNode()}, n.Arguments...)
		case *ast.MemberNode:
			name, _ := callee.Property.(*ast.StringNode)
			if name == nil || !callee.Method {
				s.fail(n, "only functions can be called")
				return
			}
			if _, ok := methods[name.Value]; !ok {
				s.fail(n, "method .%s() is not supported; expressions can call %s", name.Value, methodList())
				return
			}
			// The receiver goes first so that an optional chain (a?.b.trim())
			// that stops at nil leaves nothing of this call on the stack.
			args := append([]ast.Node{callee.Node, runNode(), &ast.StringNode{Value: name.Value}, &ast.BoolNode{Value: callee.Optional}}, n.Arguments...)
			s.replace(node, n, "$method", args)
		default:
			s.fail(n, "only functions can be called")
		}

	case *ast.BinaryNode:
		switch {
		case n.Operator == "+":
			s.replace(node, n, "$add", []ast.Node{runNode(), n.Left, n.Right})
		case n.Operator == "-" || n.Operator == "*":
			l, lok := literalType(n.Left)
			r, rok := literalType(n.Right)
			if lok && rok && (!numeric(l) || !numeric(r)) {
				// What the checker would have said, had it seen the operator.
				s.fail(n, "invalid operation: %s (mismatched types %s and %s)", n.Operator, l, r)
				return
			}
			fn := map[string]string{"-": "$sub", "*": "$mul"}[n.Operator]
			s.replace(node, n, fn, []ast.Node{runNode(), n.Left, n.Right})
		case n.Operator == "/":
			l, lok := literalType(n.Left)
			r, rok := literalType(n.Right)
			if lok && rok && (!numeric(l) || !numeric(r)) {
				s.fail(n, "invalid operation: / (mismatched types %s and %s)", l, r)
				return
			}
			s.replace(node, n, "$div", []ast.Node{runNode(), n.Left, n.Right})
		case n.Operator == "matches":
			s.replace(node, n, "$matches", []ast.Node{runNode(), n.Left, n.Right})
		case n.Operator == "??" && s.elvis[n.Location().From]:
			// SpEL's a ?: b yields b when a is null or "": let v = a; $nonEmpty(v) ? v : b
			name := s.newName("elvis")
			cond := &ast.CallNode{Callee: &ast.IdentifierNode{Value: "$nonEmpty"}, Arguments: []ast.Node{runNode(), &ast.IdentifierNode{Value: name}}}
			let := &ast.VariableDeclaratorNode{Name: name, Value: n.Left, Expr: &ast.ConditionalNode{
				Ternary: true, Cond: cond, Exp1: &ast.IdentifierNode{Value: name}, Exp2: n.Right,
			}}
			let.SetLocation(n.Location())
			*node = let
		case comparisons[n.Operator]:
			s.replace(node, n, "$tick", []ast.Node{runNode(), n})
		}

	case *ast.UnaryNode:
		if n.Operator != "-" {
			return
		}
		// A negative literal stays a literal; anything else is checked.
		var lit ast.Node
		switch x := n.Node.(type) {
		case *ast.IntegerNode:
			lit = &ast.IntegerNode{Value: -x.Value} // a literal is at most math.MaxInt
		case *ast.FloatNode:
			lit = &ast.FloatNode{Value: -x.Value}
		default:
			if t, ok := literalType(n.Node); ok {
				s.fail(n, "invalid operation: - (mismatched type %s)", t)
				return
			}
			s.replace(node, n, "$neg", []ast.Node{runNode(), n.Node})
			return
		}
		lit.SetLocation(n.Location())
		*node = lit

	case *ast.BuiltinNode:
		if len(n.Arguments) > 3 { // max(1, 2, …): charge the arguments
			*node = &ast.CallNode{Callee: &ast.IdentifierNode{Value: "$args"}, Arguments: []ast.Node{runNode(), &ast.IntegerNode{Value: len(n.Arguments)}, n}}
			(*node).SetLocation(n.Location())
			node = &(*node).(*ast.CallNode).Arguments[2]
		}
		switch n.Name {
		case "sum":
			s.sum(node, n)
		case "sortBy":
			s.sortBy(node, n)
		case "abs":
			s.replace(node, n, "$abs", []ast.Node{runNode(), n})
		default:
			if allocating[n.Name] {
				s.replace(node, n, "$charge", []ast.Node{runNode(), &ast.StringNode{Value: n.Name}, n})
				return
			}
			s.replace(node, n, "$tick", []ast.Node{runNode(), n})
		}

	case *ast.PredicateNode:
		if isTick(n.Node) {
			return
		}
		tick := &ast.CallNode{Callee: &ast.IdentifierNode{Value: "$tick"}, Arguments: []ast.Node{runNode(), n.Node}}
		tick.SetLocation(n.Node.Location())
		n.Node = tick
	}
}

// literalType is the type of a literal, as the checker names it.
func literalType(n ast.Node) (string, bool) {
	switch n.(type) {
	case *ast.IntegerNode:
		return "int", true
	case *ast.FloatNode:
		return "float64", true
	case *ast.StringNode:
		return "string", true
	case *ast.BoolNode:
		return "bool", true
	case *ast.NilNode:
		return "nil", true
	}
	return "", false
}

func numeric(t string) bool { return t == "int" || t == "float64" }

// comparisons are the binary operators whose cost grows with their operands.
var comparisons = map[string]bool{
	"==": true, "!=": true, "<": true, ">": true, "<=": true, ">=": true,
	"in": true, "contains": true, "startsWith": true, "endsWith": true, "..": true,
}

// allocating are the expr builtins that build a string, list or map as big
// as their input (or, for the closures, as the list they loop over). What
// they build is charged to the memory budget after the fact ($charge): it is
// at most about twice what the evaluation already holds. The builtins that
// can build more than their input are replaced (see disabledBuiltins).
var allocating = map[string]bool{
	"upper": true, "lower": true, "toBase64": true, "fromBase64": true,
	"keys": true, "values": true, "toPairs": true, "fromPairs": true, "reverse": true,
	"map": true, "filter": true, "groupBy": true,
}

// sum(list[, predicate]) becomes reduce(list, $sumAdd(#acc, predicate or
// #), 0): the same additions in the same order, checked for overflow.
func (s *sandbox) sum(node *ast.Node, n *ast.BuiltinNode) {
	var elem ast.Node = &ast.PointerNode{}
	switch len(n.Arguments) {
	case 1:
	case 2:
		p, ok := n.Arguments[1].(*ast.PredicateNode)
		if !ok {
			s.replace(node, n, "$tick", []ast.Node{runNode(), n}) // the checker reports it
			return
		}
		elem = p.Node
	default:
		s.replace(node, n, "$tick", []ast.Node{runNode(), n})
		return
	}
	add := &ast.CallNode{Callee: &ast.IdentifierNode{Value: "$sumAdd"}, Arguments: []ast.Node{runNode(), &ast.PointerNode{Name: "acc"}, elem}}
	reduce := &ast.BuiltinNode{Name: "reduce", Arguments: []ast.Node{n.Arguments[0], &ast.PredicateNode{Node: add}, &ast.IntegerNode{Value: 0}}}
	reduce.SetLocation(n.Location())
	s.rewritten[n.Arguments[0].Location().From] = "sum"
	s.replace(node, n, "$tick", []ast.Node{runNode(), reduce})
}

// sortBy(list, key[, order]) becomes
//
//	let #sortN = list; $sortBy(#sortN, map(#sortN, key), order)
//
// which sorts the same pairs with the same algorithm as expr's, so ties
// come out in the same order, but passes checkpoints while it sorts.
func (s *sandbox) sortBy(node *ast.Node, n *ast.BuiltinNode) {
	if len(n.Arguments) < 2 || len(n.Arguments) > 3 || !isPredicate(n.Arguments[1]) {
		s.replace(node, n, "$tick", []ast.Node{runNode(), n}) // the checker reports it
		return
	}
	name := s.newName("sort")
	list := &ast.IdentifierNode{Value: name}
	list.SetLocation(n.Arguments[0].Location())
	keys := &ast.BuiltinNode{Name: "map", Arguments: []ast.Node{list, n.Arguments[1]}}
	keys.SetLocation(n.Location())
	var order ast.Node = &ast.StringNode{Value: "asc"}
	if len(n.Arguments) == 3 {
		order = n.Arguments[2]
	}
	call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: "$sortBy"}, Arguments: []ast.Node{runNode(), &ast.IdentifierNode{Value: name}, keys, order}}
	call.SetLocation(n.Location())
	let := &ast.VariableDeclaratorNode{Name: name, Value: n.Arguments[0], Expr: call}
	let.SetLocation(n.Location())
	s.rewritten[n.Arguments[0].Location().From] = "sortBy"
	*node = let
}

func isPredicate(n ast.Node) bool { _, ok := n.(*ast.PredicateNode); return ok }

func (s *sandbox) newName(prefix string) string {
	s.n++
	return fmt.Sprintf("#%s%d", prefix, s.n)
}

func (s *sandbox) replace(node *ast.Node, old ast.Node, fn string, args []ast.Node) {
	call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: fn}, Arguments: args}
	call.SetLocation(old.Location())
	*node = call
}

func isTick(n ast.Node) bool {
	call, ok := n.(*ast.CallNode)
	if !ok {
		return false
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	return ok && id.Value == "$tick"
}

func runNode() ast.Node { return &ast.IdentifierNode{Value: runKey} }

// programs caches compiled expressions by source. It is a memo, not state:
// a hit returns exactly what compile would. Two generations of at most
// cacheGeneration entries each bound its size; a hit in the old generation
// is promoted.
var programs = &programCache{cur: map[string]*program{}}

const cacheGeneration = 1024

type programCache struct {
	mu       sync.Mutex
	cur, old map[string]*program
}

func (c *programCache) get(body string) *program {
	c.mu.Lock()
	p, ok := c.cur[body]
	if !ok {
		if p, ok = c.old[body]; ok {
			c.putLocked(body, p)
		}
	}
	c.mu.Unlock()
	if ok {
		return p
	}
	p = compile(body)
	if len(body) <= maxSourceBytes {
		c.mu.Lock()
		c.putLocked(body, p)
		c.mu.Unlock()
	}
	return p
}

func (c *programCache) putLocked(body string, p *program) {
	if len(c.cur) >= cacheGeneration {
		c.old, c.cur = c.cur, make(map[string]*program, cacheGeneration)
	}
	c.cur[body] = p
}
