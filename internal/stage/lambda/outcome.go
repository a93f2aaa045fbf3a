package lambda

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-cd/sluice/internal/stage"
)

// failure ends a task TERMINAL with its message as is.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

// fail returns a failure: the message must say what to fix.
func fail(format string, args ...any) error { return &failure{fmt.Sprintf(format, args...)} }

// notYet makes a task run again later (Running with RetryAfter) until its
// wait timeout passes; then it fails with the message.
type notYet struct{ msg string }

func (n *notYet) Error() string { return n.msg }

// retry returns a notYet: what the task is waiting for, in words.
func retry(format string, args ...any) error { return &notYet{fmt.Sprintf(format, args...)} }

// result turns a task's outcome into its result: nil err is res as given
// (Succeeded when its status is empty), a failure is TERMINAL, a notYet is
// Running (or TERMINAL when the wait timeout passed), and any other error
// is TERMINAL with its text — except a canceled context, which is handed
// to the engine so the task runs again.
func result(ctx context.Context, t *stage.Task, res stage.Result, err error) (stage.Result, error) {
	if err == nil {
		if res.Status == "" {
			res.Status = stage.Succeeded
		}
		return res, nil
	}
	if ctx.Err() != nil {
		return stage.Result{}, err
	}
	var f *failure
	var n *notYet
	switch {
	case errors.As(err, &f):
		res.Status, res.Error, res.RetryAfter = stage.Terminal, f.msg, 0
	case errors.As(err, &n):
		timeout, terr := waitTimeout(t)
		if terr != nil {
			res.Status, res.Error = stage.Terminal, terr.Error()
			break
		}
		if elapsed := t.Now.Sub(taskStart(t)); elapsed >= timeout {
			res.Status, res.RetryAfter = stage.Terminal, 0
			res.Error = fmt.Sprintf("gave up after %s (waitTimeoutSeconds %d): %s; raise waitTimeoutSeconds if this needs longer",
				elapsed.Round(time.Millisecond), int(timeout/time.Second), n.msg)
			break
		}
		res.Status, res.RetryAfter = stage.Running, backoff(t)
		if res.Context == nil {
			res.Context = map[string]any{}
		}
		res.Context[ctxWaitingFor] = n.msg
	default:
		res.Status, res.Error, res.RetryAfter = stage.Terminal, err.Error(), 0
	}
	return res, nil
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

// waitTimeout is the stage's waitTimeoutSeconds, default 5 minutes.
func waitTimeout(t *stage.Task) (time.Duration, error) {
	n, ok, err := integer(t.Context, "waitTimeoutSeconds")
	switch {
	case err != nil:
		return 0, fail("waitTimeoutSeconds %s", err)
	case !ok:
		return defaultWaitTimeout, nil
	case n < 1:
		return 0, fail("waitTimeoutSeconds must be at least 1, not %d", n)
	}
	return time.Duration(n) * time.Second, nil
}
