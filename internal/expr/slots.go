package expr

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// slots holds one token per running evaluation: as many as the process may
// run Go code on at once (GOMAXPROCS at start-up), and at least two. An
// evaluation only computes, so more at once would not finish sooner; with
// each within its memory budget, the slots bound the memory all evaluations
// take together. It is the package's one piece of shared state besides the
// compile cache, and deliberately so: the bound is on the process, whoever
// calls.
var slots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

// acquire takes a slot, waiting at most wait (or until ctx is done), and
// returns the function that gives it back. The wait does not count against
// the evaluation's own time limit, which starts once it has a slot, so a
// call returns within about twice its limit.
func acquire(ctx context.Context, wait time.Duration) (release func(), err error) {
	release = func() { <-slots }
	select {
	case slots <- struct{}{}:
		return release, nil
	default:
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case slots <- struct{}{}:
		return release, nil
	case <-timer.C:
		return nil, &limitError{
			msg: fmt.Sprintf("%d expressions were already being evaluated, the limit of this process, and none finished within %v; try again", cap(slots), wait),
			err: ErrBusy,
		}
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &limitError{msg: fmt.Sprintf("evaluation stopped: the caller's deadline passed while waiting for one of the %d evaluation slots", cap(slots)), err: errors.Join(ErrBusy, ErrTimeout, context.DeadlineExceeded)}
		}
		return nil, &limitError{msg: "evaluation cancelled while waiting for a slot: " + ctx.Err().Error(), err: ctx.Err()}
	}
}
