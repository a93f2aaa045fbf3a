package stage

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/status"
)

// Type is one stage type, e.g. "wait" or "Aws.LambdaDeploymentStage".
//
// The engine calls Validate when a pipeline is saved, Tasks when the stage
// starts, and Run for each task until it returns a final status. Run must
// be idempotent: after a crash the engine may run the same task again with
// the same input, and the task must re-read the world and act only on the
// difference (ARCHITECTURE.md rule 5).
type Type interface {
	// Name is the pipeline "type" string.
	Name() string
	// Validate checks the stage's own fields (the whole stage object from
	// the document) and returns every problem found, each naming its field.
	// Values that contain ${…} expressions are not checked for type.
	Validate(fields map[string]any) []FieldError
	// Tasks names the tasks the stage runs, in order, given its evaluated
	// context.
	Tasks(context map[string]any) []string
	// Run runs one task once.
	Run(ctx context.Context, t *Task) (Result, error)
}

// Inline is implemented by stage types whose tasks only look at their input
// and the clock and return at once: no network, no disk, no waiting (wait,
// manualJudgment). The engine runs such a task inside the transaction that
// records its result, under the execution's lock, which saves reading the
// execution once more per task. A task that calls anything outside the
// process must not be Inline: it would hold the lock, and a database
// connection, for as long as it takes. Nor may one that evaluates
// expressions (evaluateVariables, checkPreconditions): each may run for
// expr's time limit, and on SQLite the transaction holds the one write
// connection, which every other execution's transitions wait for.
type Inline interface {
	Inline()
}

// IsInline reports whether typ's tasks may run inside a transaction.
func IsInline(typ Type) bool {
	_, ok := typ.(Inline)
	return ok
}

// Canceler is implemented by stage types whose running tasks must clean up
// when the execution is canceled. An error means the cleanup failed and
// what the stage applied is still there: the engine records the stage
// TERMINAL with it, never CANCELED. A stage that had already made a change
// it does not undo returns an *AppliedError describing it.
//
// CANCELED, as in Orca, means the stage stopped; in Sluice it also means
// the stage left nothing it applied. A stage canceled after its change was
// applied ends TERMINAL with the change named, so that the record does not
// suggest nothing happened.
type Canceler interface {
	Cancel(ctx context.Context, t *Task) error
}

// AppliedError is what a Canceler returns when the stage, canceled, had
// already applied a change that stays: the engine records the stage
// TERMINAL with its text.
type AppliedError struct {
	// Change says what the stage changed, e.g. "updateCode, publishVersion
	// ran on function hello-api".
	Change string
}

func (e *AppliedError) Error() string {
	return "canceled after the stage had applied its change (" + e.Change + "); that change stays: run the pipeline again or roll back to undo it"
}

// Task is the input of one task run.
type Task struct {
	Name        string // one of Type.Tasks
	ExecutionID string
	StageID     string
	StageRefID  string
	StageName   string
	Application string
	// Context is the stage's context with expressions evaluated, plus what
	// earlier runs of this stage's tasks wrote. Tasks must not modify it;
	// they return changes in Result.Context.
	Context map[string]any
	// StartTime is when the stage started; TaskStartTime when this task did.
	StartTime     time.Time
	TaskStartTime time.Time
	// Now is the engine clock's time for this run.
	Now time.Time
	// User is whoever triggered the execution.
	User string
	// Artifacts are the execution's bound artifacts by expected-artifact
	// id (trigger.resolvedExpectedArtifacts): what a stage field
	// {"id": …} or {"artifactId": …} names.
	Artifacts map[string]pipeline.Artifact
	// Eval evaluates the ${…} expressions in v as this stage sees the
	// execution, with vars as extra roots (evaluateVariables uses it to let
	// later variables read earlier ones). It returns the result and one
	// message per failed expression; failed expressions are left in place.
	Eval func(ctx context.Context, v any, vars map[string]any) (any, []string)
	// Executions reads other executions (see Executions).
	Executions Executions
}

// Steerable is implemented by stage types whose running stage takes
// commands from people: a progressive traffic shift is paused, resumed,
// promoted at once or aborted. The engine records each accepted command in
// the stage context under CommandsKey and runs the stage's task again,
// which acts on the commands it has not yet seen.
type Steerable interface {
	// Commands names the commands the stage takes now, given its context;
	// none when it takes none (a Route stage that is not progressive).
	Commands(context map[string]any) []string
}

// SkipWindowKey is the stage context key the engine sets when someone
// skips a stage's execution window (Deck's "skip execution window",
// sluice execution skip-wait): the window's tasks then end at once. It is
// not skipRemainingWait, which a wait stage reads for its own wait.
const SkipWindowKey = "skipExecutionWindow"

// ProgressKey is the stage context key where a running task says how far
// it has come, in a sentence ("step 2 of 3: 50% to version 4"). Each new
// value is told to people following the execution as a stage.progress
// event; set it only when something happened, not on every run.
const ProgressKey = "progress"

// CommandsKey is the stage context key of the commands given to a
// Steerable stage: a list of {command, user, at (RFC 3339)}.
const CommandsKey = "stageCommands"

// Timeouter is implemented by stage types that need a default timeout when
// the stage sets no stageTimeoutMs (a manual judgment waits three days).
type Timeouter interface {
	DefaultTimeout() time.Duration
}

// RestartKeeper is implemented by stage types that record in their
// context what their first run resolved (a Delete's versions), so that the
// stage, restarted, redoes the same change rather than the next one. When
// the stage itself is restarted, the engine keeps those context keys;
// stages downstream of it start afresh.
type RestartKeeper interface {
	KeptOnRestart() []string
}

// RawFielder is implemented by stage types that evaluate some of their own
// fields' expressions at run time; the engine leaves those fields as
// written when the stage starts.
type RawFielder interface {
	RawFields() []string
}

// Result is what one task run returns. Tasks build it from the outcomes
// Succeed, Fail, RetryAfter, Wait and Skip; the engine reads its fields.
type Result struct {
	// Status is the task's status after this run, set by the outcome:
	// status.Succeeded or status.Skipped (done; the next task follows),
	// status.Running (not done: run again after RetryAfter, or, when that
	// is zero, wait for an outside event that runs it again), or a failure
	// (status.Terminal; status.FailedContinue or status.Stopped to override
	// the stage's failure options), which fails the stage.
	Status status.Status
	// Context entries are merged into the stage's context.
	Context map[string]any
	// Outputs entries are merged into the stage's outputs, visible to
	// downstream stages.
	Outputs map[string]any
	// RetryAfter is how long to wait before running a Running task again.
	RetryAfter time.Duration
	// Error explains a failure in words that tell the user what to fix. It
	// is required for a failure status.
	Error string
	// Start asks the engine to start a child execution (StartPipeline).
	Start *PipelineStart
}

// FieldError is one problem with one field of a stage.
type FieldError struct {
	Field string // dotted path inside the stage, e.g. "waitTime" or "judgmentInputs[1].value"
	Msg   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

// Registry maps type names to stage types. It is built once at start-up
// and read-only afterwards.
type Registry struct {
	types map[string]Type
}

// NewRegistry returns a registry holding types. A duplicate name is a
// programmer error and panics.
func NewRegistry(types ...Type) *Registry {
	r := &Registry{types: make(map[string]Type, len(types))}
	for _, t := range types {
		r.register(t.Name(), t)
	}
	return r
}

// Alias makes name resolve to the type already registered as target
// (Orca's alternate names, e.g. "lambdaDeployment").
func (r *Registry) Alias(name, target string) {
	t, ok := r.types[target]
	if !ok {
		panic(fmt.Sprintf("stage: alias %q targets unknown type %q", name, target))
	}
	r.register(name, t)
}

func (r *Registry) register(name string, t Type) {
	if _, dup := r.types[name]; dup {
		panic(fmt.Sprintf("stage: type %q registered twice", name))
	}
	r.types[name] = t
}

// Lookup returns the type registered under name.
func (r *Registry) Lookup(name string) (Type, bool) {
	t, ok := r.types[name]
	return t, ok
}

// Names returns every registered name, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.types))
	for n := range r.types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Known reports whether name is registered.
func (r *Registry) Known(name string) bool {
	_, ok := r.types[name]
	return ok
}

// ValidateFields checks a stage's fields with its type's Validate. With
// Known and Names it makes the registry a pipeline.StageTypes, so the
// document validator reports field problems of every registered type.
func (r *Registry) ValidateFields(stageType string, fields map[string]any) []pipeline.FieldProblem {
	t, ok := r.types[stageType]
	if !ok {
		return nil
	}
	errs := t.Validate(fields)
	out := make([]pipeline.FieldProblem, len(errs))
	for i, e := range errs {
		out[i] = pipeline.FieldProblem{Field: e.Field, Msg: e.Msg}
	}
	return out
}

// KnownFields returns the keys a stage of type stageType may have, when
// the type declares them (FieldDeclarer), and nil otherwise.
func (r *Registry) KnownFields(stageType string) *pipeline.KnownFields {
	if d, ok := r.types[stageType].(FieldDeclarer); ok {
		return d.KnownFields()
	}
	return nil
}

var _ pipeline.StageTypes = (*Registry)(nil)
