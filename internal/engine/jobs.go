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
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// startExecutionArgs moves a NOT_STARTED execution to RUNNING once it
// leaves its pipeline's concurrency queue. An execution that is not
// queued starts in the transaction that creates it (createExecution).
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
	w.e.metrics.started(job.JobRow)
	return w.e.inTx(ctx, func(t *txn) error {
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

// Work runs the stage's current task, and the tasks after it while they
// succeed at once, in three steps per task: decide, under the execution's
// lock, what the job does (and do at once whatever needs no outside call);
// perform a task that calls out, with no transaction open; record its
// result, under the lock again. Between tasks it waits out a short retry
// delay itself and hands a longer one to River as a snooze.
func (w *runStageWorker) Work(ctx context.Context, job *river.Job[runStageArgs]) error {
	w.e.metrics.started(job.JobRow)
	for {
		p, out, err := w.decide(ctx, job)
		if err != nil {
			return err
		}
		if p != nil {
			res, err := w.perform(ctx, p)
			if err != nil {
				return err
			}
			if out, err = w.record(ctx, job, p, res); err != nil {
				return err
			}
		}
		if again, err := w.e.await(ctx, out); !again {
			return err
		}
	}
}

// step is what a run_stage job decided to do with its running stage.
type step int

const (
	stepDone   step = iota // the job has nothing (more) to do
	stepRun                // run the current task
	stepCancel             // run the stage type's cancel hook, then cancel the stage
)

// pending is a step that decide leaves to perform: a task, or a cancel
// hook, that may call out of the process and so runs with no transaction
// open.
type pending struct {
	step     step // stepRun or stepCancel
	typ      stage.Type
	task     *stage.Task
	deadline time.Time // the stage's, when decide loaded it; zero for none
}

// outcome is what recording a task's result leaves the job to do.
type outcome struct {
	again  bool          // run the stage's next task in this job
	snooze time.Duration // run this task again after snooze
}

// decide loads the job's stage under the execution's lock and decides what
// to do with it. Whatever needs no outside call — a stale job, a pause, a
// timeout, a cancel without a hook, an Inline task — is done and recorded
// in this transaction: decide returns no pending step, and for an Inline
// task the outcome of its result. A step that may call out is returned for
// perform, and the transaction writes nothing.
func (w *runStageWorker) decide(ctx context.Context, job *river.Job[runStageArgs]) (*pending, outcome, error) {
	var (
		p   *pending
		out outcome
	)
	err := w.e.inTx(ctx, func(t *txn) error {
		p, out = nil, outcome{}
		r, s, err := t.loadStage(job.Args)
		if err != nil || s == nil {
			if err == nil {
				err = t.completeJob(job.JobRow) // a stale job
			}
			return err
		}
		typ, _ := w.e.stages.Lookup(s.row.Type)
		deadline := r.deadline(s, typ)
		if s.inWindow() {
			// The execution window waits as long as it takes: Orca's
			// window stage has no timeout, and its time is not the
			// stage's (RunTaskHandler.checkForTimeout).
			typ, _ = w.e.stages.Lookup(pipeline.ExecutionWindowType)
			deadline = time.Time{}
		}
		next, task, err := r.chooseStep(s, typ, deadline)
		if err != nil {
			return err
		}
		switch {
		case next == stepDone:
			if err := r.save(); err != nil {
				return err
			}
			return t.completeJob(job.JobRow)
		case next == stepRun && stage.IsInline(typ):
			res, err := runTask(ctx, typ, task)
			if err != nil {
				return err
			}
			out, err = t.recordResult(r, s, job.JobRow, res, deadline)
			return err
		}
		p = &pending{step: next, typ: typ, task: task, deadline: deadline}
		return nil // nothing written: the commit only ends the transaction
	})
	if err != nil {
		return nil, outcome{}, err
	}
	return p, out, nil
}

// perform runs a pending task, or the stage type's cancel hook, with no
// transaction open. A cancel hook that fails is logged, and the stage is
// canceled all the same.
func (w *runStageWorker) perform(ctx context.Context, p *pending) (stage.Result, error) {
	if p.step == stepCancel {
		err := p.typ.(stage.Canceler).Cancel(ctx, p.task)
		var applied *stage.AppliedError
		switch {
		case err != nil && ctx.Err() != nil:
			return stage.Result{}, err // the engine is stopping: cancel again later
		case errors.As(err, &applied):
			// The stage stopped, but its change was applied: not CANCELED.
			return stage.Result{Status: status.Terminal, Error: applied.Error()}, nil
		case err != nil:
			// What the stage applied is still there: the record must not
			// say canceled.
			w.e.log.WarnContext(ctx, "stage cancel hook", "execution_id", p.task.ExecutionID, "stage_id", p.task.StageID, "error", err)
			return stage.Result{Status: status.Terminal, Error: fmt.Sprintf("canceled, but undoing what the stage had done failed: %v", err)}, nil
		}
		return stage.Result{Status: status.Canceled}, nil
	}
	return runTask(ctx, p.typ, p.task)
}

// record writes the result of a performed step under the execution's lock,
// unless the stage moved on meanwhile (a judgment, a cancel, a restart
// rescheduled it, or another run of the job recorded this task), and says
// what the job does next.
func (w *runStageWorker) record(ctx context.Context, job *river.Job[runStageArgs], p *pending, res stage.Result) (outcome, error) {
	var out outcome
	err := w.e.inTx(ctx, func(t *txn) error {
		out = outcome{}
		r, s, err := t.loadStage(job.Args)
		if err != nil || s == nil {
			if err == nil {
				err = t.completeJob(job.JobRow)
			}
			return err
		}
		if b := s.bk(); b.Current >= len(b.Tasks) || b.Tasks[b.Current].Name != p.task.Name {
			return t.completeJob(job.JobRow)
		}
		out, err = t.recordResult(r, s, job.JobRow, res, p.deadline)
		return err
	})
	if err != nil {
		return outcome{}, err
	}
	return out, nil
}

// await does what recording a result left the job to do, and reports
// whether the job goes on with the stage: to its next task, or to this
// task again after a retry delay too short to be worth a round trip
// through the queue. Otherwise the job ends, completed (nil) or snoozed.
func (e *Engine) await(ctx context.Context, out outcome) (bool, error) {
	switch {
	case out.snooze > 0 && out.snooze <= inlineWait:
		timer := time.NewTimer(out.snooze)
		select {
		case <-timer.C:
			return true, nil
		case <-ctx.Done():
			timer.Stop()
			return false, ctx.Err()
		}
	case out.snooze > 0:
		return false, e.snooze(out.snooze)
	}
	return out.again, nil
}

// chooseStep says what a run_stage job does with its running stage, and
// makes the changes that need no task (cancel without a hook, pause,
// timeout), for which it returns stepDone.
func (r *run) chooseStep(s *stageRun, typ stage.Type, deadline time.Time) (step, *stage.Task, error) {
	switch {
	case r.exec.Canceled || r.state.Halted && !s.isRollback():
		if _, ok := typ.(stage.Canceler); ok {
			return stepCancel, r.task(s, false), nil
		}
		return stepDone, nil, r.completeStage(s, status.Canceled, "")
	case r.exec.Status == status.Paused:
		return stepDone, nil, r.pauseStage(s)
	case !deadline.IsZero() && !r.t.now.Before(deadline):
		return stepDone, nil, r.completeStage(s, s.failureStatus(), r.timeoutMessage(s))
	}
	return stepRun, r.task(s, stage.IsInline(typ)), nil
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

// recordResult writes a task's result and says what the job does next:
// run the stage's next task, run this one again later, or nothing — in
// which case the job is completed in this transaction.
func (t *txn) recordResult(r *run, s *stageRun, job *rivertype.JobRow, res stage.Result, deadline time.Time) (outcome, error) {
	var out outcome
	complete, err := r.applyResult(s, res)
	if err != nil {
		return out, err
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
		return out, err
	}
	if complete || out.snooze > inlineWait {
		t.rest(r)
	}
	if complete {
		return out, t.completeJob(job)
	}
	return out, nil
}

// rest tells a store that keeps stages in memory between transactions
// (store.StageForgetter) to let go of r's when this transaction, which
// ends or parks r's job, inserted no job to step it on. Then r waits for a
// judgment, a window or a long poll, or it has ended, and nothing locks it
// soon — unless a branch beside it is running, whose next step reads the
// stages from the database. So executions that wait hold no memory, and
// the memory goes to those that run.
func (t *txn) rest(r *run) {
	if t.jobs > 0 {
		return
	}
	if f, ok := t.tx.(store.StageForgetter); ok {
		f.ForgetStages(r.exec.ID)
	}
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
			if b := s.bk(); b.Gen != a.Gen || s.row.Status != status.Running || len(b.Tasks) == 0 {
				return r, nil, nil
			}
			return r, s, nil
		}
	}
	return r, nil, nil
}

func (t *txn) completeJob(job *rivertype.JobRow) error {
	if err := t.e.q.CompleteTx(t.ctx, t.tx, job); err != nil {
		return err
	}
	t.completed = job.ID
	return nil
}

// applyResult records a task result and reports whether the stage is
// complete.
func (r *run) applyResult(s *stageRun, res stage.Result) (bool, error) {
	if msg, ok := res.Context[stage.ProgressKey].(string); ok && msg != "" && msg != s.context()[stage.ProgressKey] {
		if err := r.event(s.row.ID, apitype.EventStageProgress, apitype.StageProgressData{RefID: s.row.RefID, Name: s.row.Name, Message: msg}); err != nil {
			return false, err
		}
	}
	if res.Context != nil {
		maps.Copy(s.context(), res.Context)
	}
	if res.Outputs != nil {
		maps.Copy(s.outs(), res.Outputs)
	}
	s.dirty = true
	if id, _ := s.context()["executionId"].(string); res.Start != nil && id == "" {
		msg, err := r.startChild(s, res.Start)
		if err != nil {
			return false, err
		}
		if msg != "" {
			return true, r.failStage(s, s.failureStatus(), msg)
		}
	}
	b := s.bk()
	cur := b.Tasks[b.Current]
	switch res.Status {
	case status.Running:
		return false, nil
	case status.Succeeded, status.Skipped:
		if err := r.setTaskStatus(s, b.Current, res.Status); err != nil {
			return false, err
		}
		if b.Current+1 < len(b.Tasks) {
			b.Current++
			return false, r.setTaskStatus(s, b.Current, status.Running)
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
	return s.row.StartTime.Add(timeout + time.Duration(s.bk().PausedMs+s.windowMs())*time.Millisecond)
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
	s.bk().PausedAt = ms(r.t.now)
	s.bk().Gen++ // jobs already scheduled for it are void
	return r.setStageStatus(s, status.Paused, apitype.StageStatusData{})
}
