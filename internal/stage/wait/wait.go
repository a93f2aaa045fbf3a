// Package wait implements the "wait" stage: it waits waitTime seconds, or
// until someone skips the remaining wait. Waiting costs a scheduled job,
// not a goroutine.
package wait

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-cd/sluice/internal/stage"
)

// Type is the wait stage type.
type Type struct{}

func (Type) Name() string { return "wait" }

// Inline implements stage.Inline: the task only reads its input and the clock.
func (Type) Inline() {}

func (Type) Validate(fields map[string]any) []stage.FieldError {
	if stage.HasExpression(fields["waitTime"]) {
		return nil
	}
	n, ok, err := stage.Number(fields, "waitTime")
	switch {
	case err != nil:
		return []stage.FieldError{{Field: "waitTime", Msg: err.Error() + " (seconds to wait)"}}
	case !ok:
		return []stage.FieldError{{Field: "waitTime", Msg: "is required: the number of seconds to wait"}}
	case n < 0:
		return []stage.FieldError{{Field: "waitTime", Msg: fmt.Sprintf("must be 0 or more seconds, not %v", n)}}
	}
	return nil
}

func (Type) Tasks(map[string]any) []string { return []string{"wait"} }

func (Type) Run(_ context.Context, t *stage.Task) (stage.Result, error) {
	if skip, _, _ := stage.Bool(t.Context, "skipRemainingWait"); skip {
		return stage.Result{Status: stage.Succeeded, Context: map[string]any{"waitSkipped": true}}, nil
	}
	secs, _, err := stage.Number(t.Context, "waitTime")
	if err != nil {
		return stage.Result{Status: stage.Terminal, Error: "waitTime " + err.Error()}, nil
	}
	remaining := t.StartTime.Add(time.Duration(secs * float64(time.Second))).Sub(t.Now)
	if remaining <= 0 {
		return stage.Result{Status: stage.Succeeded}, nil
	}
	return stage.Result{Status: stage.Running, RetryAfter: remaining}, nil
}
