// Package expr evaluates the ${…} expressions of pipeline documents:
// Spinnaker's SpEL spelling, run on github.com/expr-lang/expr inside a
// sandbox.
//
// # What it owns
//
// Finding expressions in strings ([Spans]), checking them ([Check]),
// evaluating one ([Eval], for stageEnabled and preconditions) and resolving
// every expression in a stage context or any JSON-like value ([Resolve]),
// with Orca's rules: a string that is exactly one expression takes the
// value's type, other strings are interpolated, and a failing expression is
// left in place and reported in a [Summary] rather than failing the walk.
//
// # The language
//
// An expression is expr syntax plus the SpEL a Spinnaker pipeline uses:
// the helpers #stage('name'), #stageByRefId, #stageExists, #currentStage(),
// #currentUser(), #judgment / #judgement, #toJson, #readJson, #toInt,
// #toFloat, #toBoolean, #toBase64, #fromBase64, #alphanumerical and
// #pipelineId (from the names and IDs the caller puts in [Env.Pipelines]);
// #root.execution; null; the word operators eq ne lt gt le ge div mod and or
// not; the elvis operator a ?: b (b when a is null or ""); matches, which as
// in SpEL must match the whole string; + that concatenates when either side
// is a string; and common Java methods on strings, lists and maps
// (.toUpperCase(), .substring(0, 7), .contains(x), .size(), … — see
// methods.go). String literals follow SpEL: no backslash escapes, and a
// doubled quote stands for itself, so '^v\d+$' is the regular expression it
// looks like. The roots are trigger, parameters, execution, the stage
// context's keys and the ancestor stages' outputs; a missing map key or
// root reads as null.
//
// SpEL's collection operators are translated into expr's closures, so
// they run under the same limits as filter and map: selection list.?[c]
// is filter, projection list.![e] is map, first match list.^[c] is find
// and last match list.$[c] is last(filter(…)); inside the brackets #this
// is the element and a bare name is the element's property (#root.x still
// reads a root). They apply to lists; over a map (whose entries SpEL
// would select as key/value pairs) or null they fail with a message.
// SpEL's inline list {a, b} is a list and {} the empty list ({:} the empty
// map, {k: v} a map). Division follows Java, as SpEL does: 7 / 2 is 3 and
// 7.0 / 2 is 3.5; integer division by zero is an error.
//
// Not supported, each with a message saying so: selection and projection
// over maps, instanceof, between, comments, and the Spinnaker helpers that
// reach URLs, artifacts or other services, or pipelines of other
// applications (#pipelineIdInApplication).
//
// # Sandbox guarantees
//
//   - An expression reaches only the data in [Env] and the functions listed
//     above plus expr's pure builtins. There is no file, network, process or
//     environment access, no reflection, and no call of a method of a Go
//     value: method-call syntax is compiled into calls of the fixed Go
//     functions in methods.go, and any other call is rejected at compile
//     time. SpEL's T(…) type references and new — its remote-code-execution
//     surface — are rejected with a message, as are the URL helpers,
//     $env, and expr's time builtins (now, date, duration, timezone: they
//     return Go values with methods, and timezone reads zoneinfo files).
//   - Evaluation is bounded in time, from its first operation: every
//     closure iteration, builtin call, comparison, arithmetic operator and
//     helper call is a checkpoint that stops the evaluation with ErrTimeout
//     once its deadline has passed (DefaultTimeout, or Options.Timeout, or
//     the context's deadline if earlier), so loops such as
//     map(1..100000, …) cannot run on. A timer marks the deadline, so a
//     checkpoint costs an atomic load (and a clock read every 64, in case
//     the timer is late on a busy machine). Between two checkpoints an
//     evaluation does a bounded amount of work: functions that work through
//     large inputs (join, uniq, sort, sortBy, .split(), .contains(),
//     reading and writing JSON, a long regular-expression match) pass
//     checkpoints as they go, and what cannot be interrupted is bounded in
//     size (a regular-expression search, by the program size times the
//     input; a pattern, by its length and program size, computed from its
//     parse tree before it is compiled: (?:a{1000}){3} is refused, not
//     compiled). At most GOMAXPROCS evaluations (at least two) run at once
//     in a process; a call that finds that many running waits at most as
//     long as its time limit for one to finish, and fails with ErrBusy if
//     none does, so a call returns within about twice its limit.
//   - Evaluation is bounded in size: sources are at most 32 KiB and 3000
//     syntax nodes, brackets nest at most 100 deep (the parser recurses), the
//     list elements an evaluation creates are capped (expr's memory budget),
//     and repeat, join, replace, concat, flatten, split, toJSON, string
//     and + check the size of what they would build before building it, so
//     repeat('x', 1e9) fails at once with ErrTooLarge. Results larger than
//     DefaultMaxResultBytes (as JSON) or nested deeper than 200 levels are
//     refused.
//   - Evaluation is bounded in memory: everything that allocates in
//     proportion to its input or output (strings, lists, maps, JSON, copies,
//     compiled patterns) charges the bytes to a budget per evaluation
//     (DefaultMaxMemoryBytes, Options.MaxMemoryBytes), before it allocates
//     where the result can be larger than what the evaluation already holds
//     and after the fact where it is at most about as large (upper, keys,
//     map …); so do function calls, for which expr allocates the arguments,
//     so every step of a loop takes a few dozen bytes. The budget counts
//     allocation, not live memory, so a loop that builds and drops big
//     strings runs out too; exceeding it is an ErrTooLarge that names the
//     limit. With a bounded number of evaluations at once, this bounds the
//     memory they take together.
//   - Integer arithmetic does not wrap: + - * unary minus, sum and abs on
//     integers fail with "integer overflow in …" when the result does not
//     fit in 64 bits, and so does / on integers (MinInt / -1); % cannot
//     overflow.
//   - Nothing panics out of this package, and results are plain data
//     (nil, bool, int, float64, string, []any, map[string]any) that share
//     nothing with the Env or with Resolve's input.
//
// # What it must not do
//
// It must not perform I/O, keep state between evaluations (the compile cache
// is a memo keyed by source; the evaluation slots bound the process, not an
// evaluation), modify an Env or a value passed to Resolve, or let an
// expression call anything not listed here. New helpers are Go functions
// over plain data added to the functions table in helpers.go, and must
// check the size of what they build, charge it to the memory budget
// (run.alloc) before allocating, and pass a checkpoint (run.tick, run.every)
// in any loop over a large input.
package expr
