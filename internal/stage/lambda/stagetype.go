package lambda

import (
	"context"

	"github.com/sluice-cd/sluice/internal/stage"
)

// Every Lambda stage type is a stageType: a spec its fields decode into,
// and its tasks, in order, each a function of that spec. A new stage type
// declares the two and nothing else:
//
//	type invokeSpec struct {
//		target // account, region, functionName, …
//		ExecutionCount stage.IntField `json:"executionCount"`
//		…
//	}
//
//	func (s *invokeSpec) Check(c *stage.Checker) {
//		s.target.check(c)
//		c.Range(&s.ExecutionCount, 1, maxExecutionCount)
//	}
//
//	func newInvokeType(b base) stage.Type {
//		return &stageType[invokeSpec, *invokeSpec]{base: b, name: InvokeTypeName, tasks: []task[invokeSpec]{
//			{name: "lambdaInvoke", run: b.invoke},
//		}}
//	}
//
// A task that runs only when the fields ask has a when:
// {name: taskPublish, run: publishDeploy, when: (*deploySpec).publishes}.
//
// Validate checks a document's stage with the spec. Run decodes the task's
// context into a fresh spec once, resolves the function, runs the task
// and turns what it returned into the engine's result (outcome).

// spec is a Lambda stage's fields: a stage.Spec that names the function
// its tasks work on (every spec embeds target).
type spec interface {
	stage.Spec
	functionTarget() *target
}

// taskFunc runs one task of a stage whose fields decode into S, on
// function f. It returns an outcome (stage.Succeed(), …), or an error: a
// failure (fail) ends the task TERMINAL with its message, a notYet (retry)
// runs it again until waitTimeoutSeconds pass, and any other error ends it
// TERMINAL with its text. The Context and Outputs of a Result returned with
// an error are kept.
type taskFunc[S any] func(ctx context.Context, t *stage.Task, f *function, s *S) (stage.Result, error)

// task is one task of a stage type.
type task[S any] struct {
	name string
	run  taskFunc[S]
	// when says whether the stage runs the task, given its fields; nil
	// means always.
	when func(s *S) bool
}

// stageType is a Lambda stage type whose fields decode into S.
type stageType[S any, P interface {
	*S
	spec
}] struct {
	base
	name  string
	tasks []task[S]
	// plan makes the stage's plan (stage.Planner); nil says what it
	// changes is known only at run time.
	plan planFunc[S]
	// kept is the context keys a restart of the stage keeps: what its
	// first run resolved (stage.RestartKeeper).
	kept []string
}

// KeptOnRestart names the context keys a restart of the stage keeps.
func (st *stageType[S, P]) KeptOnRestart() []string { return st.kept }

func (st *stageType[S, P]) Name() string { return st.name }

func (st *stageType[S, P]) Validate(fields map[string]any) []stage.FieldError {
	s := P(new(S))
	errs := stage.Validate(fields, s)
	return append(errs, st.checkAccount(fields, s.functionTarget())...)
}

// Tasks names the tasks the stage runs. Fields that do not decode are
// left to the first task, which fails naming them.
func (st *stageType[S, P]) Tasks(fields map[string]any) []string {
	s := new(S)
	_ = stage.Decode(fields, P(s))
	var names []string
	for _, tk := range st.tasks {
		if tk.when == nil || tk.when(s) {
			names = append(names, tk.name)
		}
	}
	return names
}

func (st *stageType[S, P]) Run(ctx context.Context, t *stage.Task) (stage.Result, error) {
	s := new(S)
	if err := stage.Decode(t.Context, P(s)); err != nil {
		return stage.Fail(err.Error()), nil
	}
	res, err := st.run(ctx, t, s)
	return outcome(ctx, t, P(s).functionTarget().waitTimeout(), res, err)
}

func (st *stageType[S, P]) run(ctx context.Context, t *stage.Task, s *S) (stage.Result, error) {
	f, err := st.function(t.Application, P(s).functionTarget())
	if err != nil {
		return stage.Result{}, err
	}
	for _, tk := range st.tasks {
		if tk.name == t.Name {
			return tk.run(ctx, t, f, s)
		}
	}
	return stage.Result{}, fail("%s has no task %q", st.name, t.Name)
}

// onFunction makes a task of any stage type from one that needs only its
// function.
func onFunction[S any](run func(ctx context.Context, t *stage.Task, f *function) (stage.Result, error)) taskFunc[S] {
	return func(ctx context.Context, t *stage.Task, f *function, _ *S) (stage.Result, error) {
		return run(ctx, t, f)
	}
}
