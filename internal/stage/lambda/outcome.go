package lambda

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
)

// A task's helpers report what stops it as errors, so that they can say so
// from deep inside a call: a failure ends the task, a notYet makes it look
// again later. outcome turns them into the stage vocabulary.

// failure ends a task TERMINAL with its message as is.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

// fail returns a failure: the message must say what to fix.
func fail(format string, args ...any) error { return &failure{fmt.Sprintf(format, args...)} }

// notYet makes a task run again later (stage.RetryAfter) until its wait
// timeout passes; then it fails with the message.
type notYet struct{ msg string }

func (n *notYet) Error() string { return n.msg }

// retry returns a notYet: what the task is waiting for, in words.
func retry(format string, args ...any) error { return &notYet{fmt.Sprintf(format, args...)} }

// failureMessageKey is the output where a failed task leaves its message,
// as Orca's Lambda tasks do.
const failureMessageKey = "failureMessage"

// ctxWaitingFor is the context key where a waiting task says what it
// waits for, for people watching the execution.
const ctxWaitingFor = "waitingFor"

// defaultWaitTimeout is how long a waiting task waits when the stage sets
// no waitTimeoutSeconds.
const defaultWaitTimeout = 5 * time.Minute

// outcome turns what a task returned into its result. Without an error
// the task's outcome stands. A failure fails the task with its message
// (also in the failureMessage output, as Orca writes it); a
// notYet runs it again after backoff, or fails it once timeout has passed
// since the task started; any other error fails it with its text — except
// when ctx is canceled: the error goes to the engine, which runs the task
// again. The context and outputs returned with an error are kept.
func outcome(ctx context.Context, t *stage.Task, timeout time.Duration, res stage.Result, err error) (stage.Result, error) {
	if err == nil {
		return res, nil
	}
	if ctx.Err() != nil {
		return stage.Result{}, err
	}
	var out stage.Result
	var f *failure
	var n *notYet
	switch {
	case errors.As(err, &f):
		out = stage.Fail(f.msg)
	case errors.As(err, &n):
		if elapsed := t.Now.Sub(taskStart(t)); elapsed >= timeout {
			out = stage.Failf("gave up after %s (waitTimeoutSeconds %d): %s; raise waitTimeoutSeconds if this needs longer",
				elapsed.Round(time.Millisecond), int(timeout/time.Second), n.msg)
			break
		}
		out = stage.RetryAfter(backoff(t)).WithContext(map[string]any{ctxWaitingFor: n.msg})
	default:
		out = stage.Fail(err.Error())
	}
	if out.Status == status.Terminal {
		out = out.WithOutputs(map[string]any{failureMessageKey: out.Error})
	}
	return out.WithContext(res.Context).WithOutputs(res.Outputs), nil
}

func taskStart(t *stage.Task) time.Time {
	if t.TaskStartTime.IsZero() {
		return t.Now
	}
	return t.TaskStartTime
}

// backoff is how long a waiting task waits before it looks again: a
// quarter of the time it has waited, between 20 ms and 2 s. Local
// transitions take milliseconds; AWS's take seconds.
func backoff(t *stage.Task) time.Duration {
	return min(max(t.Now.Sub(taskStart(t))/4, 20*time.Millisecond), 2*time.Second)
}
