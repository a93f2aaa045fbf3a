package stage

import (
	"fmt"
	"maps"
	"time"

	"github.com/sluice-cd/sluice/internal/status"
)

// The outcomes of a task. A task returns one of these, with what it
// learned attached by WithOutputs and WithContext:
//
//	return stage.Succeed().WithOutputs(map[string]any{"versionId": v}), nil
//	return stage.RetryAfter(2 * time.Second), nil
//	return stage.Fail("functionName is required: the name of the Lambda function"), nil
//
// A task returns an error only for what it did not expect; the engine
// fails the stage with the error's text, or runs the task again when the
// error came from the engine stopping.

// Succeed ends the task: the stage's next task runs, or the stage
// succeeds after its last one.
func Succeed() Result { return Result{Status: status.Succeeded} }

// Fail ends the task TERMINAL, and the stage fails as its failure options
// say (failPipeline, continuePipeline, completeOtherBranchesThenFail). msg
// tells the user what to fix: which field, which function, which version.
func Fail(msg string) Result { return Result{Status: status.Terminal, Error: msg} }

// Failf is Fail with a message formatted as fmt.Sprintf does.
func Failf(format string, args ...any) Result { return Fail(fmt.Sprintf(format, args...)) }

// RetryAfter runs the task again after d, seeing what this run wrote to
// its context: a task that waits for something it can look at (a
// function's state, a clock) polls this way. A d of zero or less is taken
// as a millisecond, never as Wait.
func RetryAfter(d time.Duration) Result {
	return Result{Status: status.Running, RetryAfter: max(d, time.Millisecond)}
}

// Wait parks the task until something outside it runs the stage again: a
// manual judgment, a skip, the stage's timeout. Parking costs a row, not a
// goroutine.
func Wait() Result { return Result{Status: status.Running} }

// Skip ends the task SKIPPED: it had nothing to do. The stage goes on as
// after Succeed.
func Skip() Result { return Result{Status: status.Skipped} }

// WithOutputs returns r with outputs added to its Outputs: values that
// downstream stages see. Outputs are merged into the stage's: an output
// cannot be removed, only set to nil.
func (r Result) WithOutputs(outputs map[string]any) Result {
	r.Outputs = merged(r.Outputs, outputs)
	return r
}

// WithContext returns r with values added to its Context: what this
// stage's later tasks, and later runs of this task, read in Task.Context.
func (r Result) WithContext(values map[string]any) Result {
	r.Context = merged(r.Context, values)
	return r
}

// merged returns a new map holding dst's entries and then src's.
func merged(dst, src map[string]any) map[string]any {
	if len(src) == 0 {
		return dst
	}
	out := make(map[string]any, len(dst)+len(src))
	maps.Copy(out, dst)
	maps.Copy(out, src)
	return out
}
