package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// startExecutionArgs moves a NOT_STARTED execution to RUNNING.
type startExecutionArgs struct {
	ExecutionID string `json:"execution_id"`
}

func (startExecutionArgs) Kind() string { return "sluice.start_execution" }

// runStageArgs runs a running stage's current task (and the tasks after it
// while they succeed at once). Gen is the stage generation the job was
// scheduled for; see stageBook.Gen.
type runStageArgs struct {
	ExecutionID string `json:"execution_id"`
	StageID     string `json:"stage_id"`
	Gen         int    `json:"gen"`
}

func (runStageArgs) Kind() string { return "sluice.run_stage" }

type startExecutionWorker struct {
	river.WorkerDefaults[startExecutionArgs]
	e *Engine
}

func (w *startExecutionWorker) Work(ctx context.Context, job *river.Job[startExecutionArgs]) error {
	return w.e.inJobTx(ctx, func(t *txn) error {
		r, err := t.load(job.Args.ExecutionID)
		if errors.Is(err, store.ErrNotFound) {
			return t.completeJob(job.JobRow)
		}
		if err != nil {
			return err
		}
		if r.exec.Status == status.NotStarted && !r.exec.Canceled {
			if err := r.begin(); err != nil {
				return err
			}
		}
		if err := r.save(); err != nil {
			return err
		}
		return t.completeJob(job.JobRow)
	})
}

type runStageWorker struct {
	river.WorkerDefaults[runStageArgs]
	e *Engine
}

// step is what a run_stage job decided to do with its running stage.
type step int

const (
	stepDone   step = iota // the job has nothing (more) to do
	stepRun                // run the current task
	stepCancel             // run the stage type's cancel hook, then cancel the stage
)

// decide says what a run_stage job does with its running stage, and makes
// the changes that need no task (cancel without a hook, pause, timeout), for
// which it returns stepDone.
func (r *run) decide(s *stageRun, typ stage.Type, deadline time.Time) (step, *stage.Task, error) {
	switch {
	case r.exec.Canceled || r.state.Halted && !s.isRollback():
		if _, ok := typ.(stage.Canceler); ok {
			return stepCancel, r.task(s), nil
		}
		return stepDone, nil, r.completeStage(s, status.Canceled, "")
	case r.exec.Status == status.Paused:
		return stepDone, nil, r.pauseStage(s)
	case !deadline.IsZero() && !r.t.now.Before(deadline):
		return stepDone, nil, r.completeStage(s, s.failureStatus(), r.timeoutMessage(s))
	}
	return stepRun, r.task(s), nil
}

// outcome is what recording a task's result leaves the job to do.
type outcome struct {
	again  bool          // run the stage's next task in this job
	snooze time.Duration // run this task again after snooze
}

func (w *runStageWorker) Work(ctx context.Context, job *river.Job[runStageArgs]) error {
	e := w.e
	a := job.Args
	for {
		var (
			next     step
			task     *stage.Task
			typ      stage.Type
			deadline time.Time
			out      outcome
		)
		// Under the execution's lock, decide what to do. Whatever needs no
		// outside call — a pause, a timeout, an Inline task — is done and
		// recorded in this transaction; a task that calls out runs after
		// it, with no transaction open.
		err := e.inJobTx(ctx, func(t *txn) error {
			next, out = stepDone, outcome{}
			r, s, err := t.loadStage(a)
			if err != nil || s == nil {
				if err == nil {
					err = t.completeJob(job.JobRow) // a stale job
				}
				return err
			}
			typ, _ = e.stages.Lookup(s.row.Type)
			deadline = r.deadline(s, typ)
			if next, task, err = r.decide(s, typ, deadline); err != nil {
				return err
			}
			switch {
			case next == stepRun && stage.IsInline(typ):
				next = stepDone
				res, err := runTask(ctx, typ, task)
				if err != nil {
					return err
				}
				return t.record(r, s, job.JobRow, res, deadline, &out)
			case next == stepDone:
				if err := r.save(); err != nil {
					return err
				}
				return t.completeJob(job.JobRow)
			}
			return nil // nothing written: the commit only ends the transaction
		})
		if err != nil {
			return err
		}

		if next != stepDone {
			// Do the work with no transaction open.
			var res stage.Result
			if next == stepCancel {
				if err := typ.(stage.Canceler).Cancel(ctx, task); err != nil {
					e.log.WarnContext(ctx, "stage cancel hook", "execution_id", a.ExecutionID, "stage_id", a.StageID, "error", err)
				}
				res = stage.Result{Status: status.Canceled}
			} else if res, err = runTask(ctx, typ, task); err != nil {
				return err
			}

			// Record the result, unless the stage moved on meanwhile.
			err = e.inJobTx(ctx, func(t *txn) error {
				out = outcome{}
				r, s, err := t.loadStage(a)
				if err != nil || s == nil {
					if err == nil {
						err = t.completeJob(job.JobRow)
					}
					return err
				}
				if s.book.Current >= len(s.book.Tasks) || s.book.Tasks[s.book.Current].Name != task.Name {
					return t.completeJob(job.JobRow)
				}
				return t.record(r, s, job.JobRow, res, deadline, &out)
			})
			if err != nil {
				return err
			}
		}

		switch {
		case out.snooze > 0 && out.snooze <= inlineWait:
			// Too short to be worth a round trip through the queue.
			timer := time.NewTimer(out.snooze)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			}
		case out.snooze > 0:
			return e.snooze(out.snooze)
		case !out.again:
			return nil
		}
	}
}

// runTask runs a task. A task's error fails the stage (TERMINAL, with the
// error as the reason), unless the job is being stopped, when the error is
// returned and River runs the job again later.
func runTask(ctx context.Context, typ stage.Type, task *stage.Task) (stage.Result, error) {
	res, err := typ.Run(ctx, task)
	if err != nil {
		if ctx.Err() != nil {
			return res, err
		}
		return stage.Result{Status: status.Terminal, Error: fmt.Sprintf("task %s: %v", task.Name, err)}, nil
	}
	return res, nil
}

// record writes a task's result and says in out what the job does next:
// run the stage's next task, run this one again later, or nothing — in
// which case the job is completed in this transaction.
func (t *txn) record(r *run, s *stageRun, job *rivertype.JobRow, res stage.Result, deadline time.Time, out *outcome) error {
	complete, err := r.applyResult(s, res)
	if err != nil {
		return err
	}
	switch {
	case complete:
	case res.Status == status.Succeeded:
		out.again = true // the next task runs in this job
	case res.Status == status.Running && res.RetryAfter > 0:
		out.snooze = res.RetryAfter
	case res.Status == status.Running && !deadline.IsZero():
		out.snooze = time.Duration(1<<63 - 1) // park until the deadline
	default:
		complete = true // park: an outside event schedules the stage again
	}
	if !deadline.IsZero() && out.snooze > 0 {
		out.snooze = min(out.snooze, max(deadline.Sub(t.now), time.Millisecond))
	}
	if err := r.save(); err != nil {
		return err
	}
	if complete {
		return t.completeJob(job)
	}
	return nil
}

const (
	// inlineWait is the longest retry delay a job waits out itself.
	inlineWait = 50 * time.Millisecond
	// schedulerInterval is how often River's scheduler makes scheduled
	// jobs available (maintenance.JobSchedulerIntervalDefault). A job
	// snoozed for longer than this is "scheduled" and may start up to this
	// late; a shorter snooze leaves it "available" from its due time.
	schedulerInterval = 5 * time.Second
	// completerFlush is how long River's batch completer may take to
	// record a snooze.
	completerFlush = 60 * time.Millisecond
)

// snooze ends the job's run and runs it again after d. A long snooze ends
// one scheduler interval early, so the job is certainly available by its
// due time; the task, run a little early, then snoozes for the few seconds
// left, and this process fetches it the moment those end.
func (e *Engine) snooze(d time.Duration) error {
	if d > schedulerInterval {
		return river.JobSnooze(d - schedulerInterval)
	}
	e.q.FetchAfter(max(d, completerFlush))
	return river.JobSnooze(d)
}

// loadStage loads the job's execution and stage. It returns a nil stage
// when the job is stale: the stage was rescheduled (another generation),
// is no longer running, or is gone.
func (t *txn) loadStage(a runStageArgs) (*run, *stageRun, error) {
	r, err := t.load(a.ExecutionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, s := range r.stages {
		if s.row.ID == a.StageID {
			if s.book.Gen != a.Gen || s.row.Status != status.Running || len(s.book.Tasks) == 0 {
				return r, nil, nil
			}
			return r, s, nil
		}
	}
	return r, nil, nil
}

func (t *txn) completeJob(job *rivertype.JobRow) error {
	return t.e.q.CompleteTx(t.ctx, t.tx, job)
}

// applyResult records a task result and reports whether the stage is
// complete.
func (r *run) applyResult(s *stageRun, res stage.Result) (bool, error) {
	if res.Context != nil {
		maps.Copy(s.ctx, res.Context)
	}
	if res.Outputs != nil {
		maps.Copy(s.outputs, res.Outputs)
	}
	s.dirty = true
	cur := s.book.Tasks[s.book.Current]
	switch res.Status {
	case status.Running:
		return false, nil
	case status.Succeeded, status.Skipped:
		if err := r.setTaskStatus(s, s.book.Current, res.Status); err != nil {
			return false, err
		}
		if s.book.Current+1 < len(s.book.Tasks) {
			s.book.Current++
			return false, r.setTaskStatus(s, s.book.Current, status.Running)
		}
		return true, r.completeStage(s, status.Succeeded, "")
	case status.Canceled:
		return true, r.completeStage(s, status.Canceled, "")
	}
	msg := res.Error
	if msg == "" {
		msg = fmt.Sprintf("task %s of stage %q returned %s without saying why", cur.Name, s.row.Name, res.Status)
	}
	to := s.failureStatus()
	switch res.Status {
	case status.FailedContinue:
		to = status.FailedContinue
	case status.Stopped:
		to = status.Stopped
	}
	return true, r.failStage(s, to, msg)
}

// deadline is when the running stage times out: stageTimeoutMs (or the
// stage type's default) after it started, not counting paused time. Zero
// means never.
func (r *run) deadline(s *stageRun, typ stage.Type) time.Time {
	var timeout time.Duration
	if s.def != nil && s.def.StageTimeoutMs > 0 {
		timeout = time.Duration(s.def.StageTimeoutMs) * time.Millisecond
	} else if to, ok := typ.(stage.Timeouter); ok {
		timeout = to.DefaultTimeout()
	}
	if timeout == 0 || s.row.StartTime == nil {
		return time.Time{}
	}
	return s.row.StartTime.Add(timeout + time.Duration(s.book.PausedMs)*time.Millisecond)
}

func (r *run) timeoutMessage(s *stageRun) string {
	if s.def != nil && s.def.StageTimeoutMs > 0 {
		return fmt.Sprintf("stage %q timed out after %s (stageTimeoutMs %d; paused time not counted); raise stageTimeoutMs if it needs longer",
			s.row.Name, time.Duration(s.def.StageTimeoutMs)*time.Millisecond, s.def.StageTimeoutMs)
	}
	return fmt.Sprintf("stage %q timed out after its default timeout; set stageTimeoutMs to wait longer", s.row.Name)
}

// pauseStage marks a running stage paused; resuming schedules it again.
func (r *run) pauseStage(s *stageRun) error {
	s.book.PausedAt = ms(r.t.now)
	s.book.Gen++ // jobs already scheduled for it are void
	return r.setStageStatus(s, status.Paused, apitype.StageStatusData{})
}
