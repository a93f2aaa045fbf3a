package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// run is one execution loaded inside a transaction for a transition. The
// engine's methods on run change it in memory; save writes back what
// changed. A run never outlives its transaction.
type run struct {
	t      *txn
	exec   *store.Execution
	doc    *pipeline.Pipeline
	state  execState
	stages []*stageRun
	dirty  bool
	// events wait for save, which writes them last, after the state they
	// describe.
	events []*store.Event
	trig   map[string]any // exec.Trigger, decoded by trigger
}

// trigger returns the execution's trigger, decoded on first use; never
// nil. Nothing may change it: the env and the stages' tasks share it. A
// trigger that does not decode reads as empty (the engine wrote it).
func (r *run) trigger() map[string]any {
	if r.trig == nil {
		_ = unmarshalObject(r.exec.Trigger, &r.trig)
		if r.trig == nil {
			r.trig = map[string]any{}
		}
	}
	return r.trig
}

// execState is the engine's bookkeeping on an execution (store column State).
type execState struct {
	Queued     bool `json:"queued,omitempty"`
	Halted     bool `json:"halted,omitempty"`     // a stage failed with failPipeline: start nothing new
	RolledBack bool `json:"rolledBack,omitempty"` // rollback stages were added
	// RolledBackBy is who added them: the user who asked, or
	// rollbackOnFailure when the execution failed.
	RolledBackBy string `json:"rolledBackBy,omitempty"`
	// RollbackFailed says which rollback stages failed, and why: what
	// they should have undone is still in place, and the execution ends
	// TERMINAL.
	RollbackFailed     string      `json:"rollbackFailed,omitempty"`
	CanceledBy         string      `json:"canceledBy,omitempty"`
	CancellationReason string      `json:"cancellationReason,omitempty"`
	Paused             *pauseState `json:"paused,omitempty"`
	// Notifications are the execution's notification deliveries, in the
	// order their events happened (notifications.go).
	Notifications []apitype.NotificationDelivery `json:"notifications,omitempty"`
}

// pauseState follows Orca's "paused" record.
type pauseState struct {
	PauseTime  int64  `json:"pauseTime,omitempty"`
	ResumeTime int64  `json:"resumeTime,omitempty"`
	PausedBy   string `json:"pausedBy,omitempty"`
	ResumedBy  string `json:"resumedBy,omitempty"`
	PausedMs   int64  `json:"pausedMs"`
}

// stageRun is one stage of a run. Its context, outputs and bookkeeping are
// decoded on first use (context, outs, bk): a transition reads the whole
// execution but uses a stage or two, and save writes back the others'
// columns as they were read.
type stageRun struct {
	r      *run
	row    *store.Stage
	def    *pipeline.Stage // nil for stages added at run time
	ctxMap map[string]any  // nil until context decodes row.Context
	outMap map[string]any  // nil until outs decodes row.Outputs
	book   stageBook       // row.Tasks, decoded by bk
	// bookSet says book holds row.Tasks, decoded or since replaced.
	bookSet bool
	dirty   bool
}

// context returns the stage's context, decoded from its row on first use.
func (s *stageRun) context() map[string]any {
	if s.ctxMap == nil {
		s.ctxMap = s.decode("context", s.row.Context)
	}
	return s.ctxMap
}

// outs returns the stage's outputs, decoded from its row on first use.
func (s *stageRun) outs() map[string]any {
	if s.outMap == nil {
		s.outMap = s.decode("outputs", s.row.Outputs)
	}
	return s.outMap
}

// bk returns the engine's bookkeeping on the stage, decoded from its row on
// first use.
func (s *stageRun) bk() *stageBook {
	if !s.bookSet {
		s.bookSet = true
		s.unmarshal("tasks", s.row.Tasks, &s.book)
	}
	return &s.book
}

// newGen clears the stage's tasks for a new generation (stageBook.Gen)
// and returns its bookkeeping.
func (s *stageRun) newGen() *stageBook {
	b := s.bk()
	*b = stageBook{Gen: b.Gen + 1}
	return b
}

// unmarshal decodes a stored column of the stage into v. What fails to
// decode leaves v empty and fails the transaction (txn.decodeErr), which so
// commits nothing and calls nothing out of the process.
func (s *stageRun) unmarshal(column string, raw json.RawMessage, v any) {
	if err := unmarshalObject(raw, v); err != nil && s.r.t.decodeErr == nil {
		s.r.t.decodeErr = fmt.Errorf("execution %s: stage %s: stored %s: %w", s.r.exec.ID, s.row.ID, column, err)
	}
}

// decode decodes a stage's JSON object column (unmarshal); never nil.
func (s *stageRun) decode(column string, raw json.RawMessage) map[string]any {
	var m map[string]any
	s.unmarshal(column, raw, &m)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// stageBook is the engine's bookkeeping on a stage (store column Tasks).
type stageBook struct {
	// Gen grows whenever the stage is (re)scheduled by something other than
	// its own job — a judgment, a cancel, a pause, a restart. A job carries
	// the generation it was created for; a job of an older generation finds
	// nothing to do. This is what makes stale timers and duplicate jobs
	// harmless.
	Gen      int          `json:"gen"`
	Current  int          `json:"current"`
	Tasks    []taskRecord `json:"tasks"`
	PausedMs int64        `json:"pausedMs,omitempty"`
	PausedAt int64        `json:"pausedAt,omitempty"`
}

type taskRecord struct {
	Name string `json:"name"`
	// Window marks a task of the stage's execution window, which the
	// window stage type (pipeline.ExecutionWindowType) runs.
	Window    bool          `json:"window,omitempty"`
	Status    status.Status `json:"status"`
	StartTime int64         `json:"startTime,omitempty"`
	EndTime   int64         `json:"endTime,omitempty"`
}

// load reads and locks an execution for a transition.
func (t *txn) load(id string) (*run, error) {
	exec, err := t.tx.ExecutionLock(t.ctx, id)
	if err != nil {
		return nil, err
	}
	// The transaction's time is read once it holds the execution's lock:
	// on Postgres a transaction that waited for the lock would otherwise
	// stamp a stage it starts earlier than the upstream stage that ended
	// in the transaction it waited for.
	t.now = t.e.now().UTC()
	return t.wrap(exec)
}

func (t *txn) wrap(exec *store.Execution) (*run, error) {
	doc, err := t.e.docs.parse(exec.ID, exec.Pipeline)
	if err != nil {
		return nil, fmt.Errorf("execution %s: stored pipeline: %w", exec.ID, err)
	}
	r := &run{t: t, exec: exec, doc: doc}
	if err := unmarshalObject(exec.State, &r.state); err != nil {
		return nil, fmt.Errorf("execution %s state: %w", exec.ID, err)
	}
	for _, row := range exec.Stages {
		s := &stageRun{r: r, row: row, def: doc.Stage(row.RefID)}
		r.stages = append(r.stages, s)
	}
	return r, nil
}

func unmarshalObject(data json.RawMessage, v any) error {
	if len(data) == 0 || string(data) == "null" {
		return nil
	}
	return json.Unmarshal(data, v)
}

// save writes back the execution and every stage that changed, then the
// events of the changes.
func (r *run) save() error {
	if r.dirty {
		state, err := json.Marshal(r.state)
		if err != nil {
			return err
		}
		r.exec.State = state
		r.exec.UpdatedAt = r.t.now
		if err := r.t.tx.ExecutionUpdate(r.t.ctx, r.exec); err != nil {
			return fmt.Errorf("update execution %s: %w", r.exec.ID, err)
		}
	}
	for _, s := range r.stages {
		if !s.dirty {
			continue
		}
		var err error
		if s.ctxMap != nil {
			if s.row.Context, err = json.Marshal(s.ctxMap); err != nil {
				return fmt.Errorf("stage %s context: %w", s.row.Name, err)
			}
		}
		if s.outMap != nil {
			if s.row.Outputs, err = json.Marshal(s.outMap); err != nil {
				return fmt.Errorf("stage %s outputs: %w", s.row.Name, err)
			}
		}
		if s.bookSet {
			if s.row.Tasks, err = json.Marshal(s.book); err != nil {
				return err
			}
		}
		s.row.UpdatedAt = r.t.now
		if err := r.t.tx.StageUpdate(r.t.ctx, s.row); err != nil {
			return fmt.Errorf("update stage %s: %w", s.row.Name, err)
		}
	}
	if len(r.events) > 0 {
		if err := r.t.tx.EventInsert(r.t.ctx, r.events...); err != nil {
			return fmt.Errorf("record %d events: %w", len(r.events), err)
		}
		r.t.events += len(r.events)
	}
	r.events = nil
	return nil
}

// stage finds a stage by ID, refId or (when unique) name.
func (r *run) stage(key string) (*stageRun, error) {
	for _, s := range r.stages {
		if s.row.ID == key {
			return s, nil
		}
	}
	for _, s := range r.stages {
		if s.row.RefID == key {
			return s, nil
		}
	}
	var named []*stageRun
	for _, s := range r.stages {
		if s.row.Name == key {
			named = append(named, s)
		}
	}
	switch len(named) {
	case 1:
		return named[0], nil
	case 0:
		names := make([]string, len(r.stages))
		for i, s := range r.stages {
			names[i] = fmt.Sprintf("%q (refId %s)", s.row.Name, s.row.RefID)
		}
		return nil, fmt.Errorf("execution %s has no stage %q; its stages are %s: %w",
			r.exec.ID, key, strings.Join(names, ", "), store.ErrNotFound)
	default:
		return nil, conflictf("%d stages of execution %s are named %q; use the stage id or refId", len(named), r.exec.ID, key)
	}
}

// setExecStatus changes the execution's status and records the event.
func (r *run) setExecStatus(to status.Status) error {
	if r.exec.Status == to {
		return nil
	}
	event := pipelineEvent(r.exec.StartTime, to)
	r.exec.Status = to
	r.dirty = true
	switch {
	case to == status.Running && r.exec.StartTime == nil:
		r.exec.StartTime = ptr(r.t.now)
	case to.Complete():
		r.exec.EndTime = ptr(r.t.now)
		r.t.end(false, r.exec.Application, r.exec.PipelineName, to, r.exec.StartTime)
		if err := r.ended(); err != nil {
			return err
		}
	}
	if err := r.notify(event, nil); err != nil {
		return err
	}
	return r.event("", apitype.EventExecutionStatus, apitype.ExecutionStatusData{Status: to})
}

// setStageStatus changes a stage's status and records the event. data
// says what the event tells besides the status and the stage: why the
// stage was skipped (Reason) or failed (Error).
func (r *run) setStageStatus(s *stageRun, to status.Status, data apitype.StageStatusData) error {
	from := s.row.Status
	events := stageEvents(s, s.row.StartTime, to)
	s.row.Status = to
	s.dirty = true
	switch {
	case to == status.Running && s.row.StartTime == nil:
		s.row.StartTime = ptr(r.t.now)
	case to.Complete():
		s.row.EndTime = ptr(r.t.now)
		if from != to {
			r.t.end(true, r.exec.Application, s.row.Type, to, s.row.StartTime)
		}
	}
	for _, ev := range events {
		if err := r.notify(ev, s); err != nil {
			return err
		}
	}
	data.Status, data.RefID, data.Name = to, s.row.RefID, s.row.Name
	return r.event(s.row.ID, apitype.EventStageStatus, data)
}

// setTaskStatus changes the status of the stage's i-th task, notes when
// it started or ended, and records the event.
func (r *run) setTaskStatus(s *stageRun, i int, to status.Status) error {
	task := &s.bk().Tasks[i]
	task.Status = to
	s.dirty = true
	switch {
	case to == status.Running:
		task.StartTime = ms(r.t.now)
	case to.Complete():
		task.EndTime = ms(r.t.now)
	}
	return r.event(s.row.ID, apitype.EventTaskStatus, apitype.TaskStatusData{
		Task: task.Name, Status: to, RefID: s.row.RefID, Name: s.row.Name,
	})
}

// event records an event of the execution (of stage stageID, when not
// empty) for save to write. data is the payload apitype names for typ.
func (r *run) event(stageID string, typ apitype.EventType, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	r.events = append(r.events, &store.Event{
		ExecutionID: r.exec.ID, StageID: stageID, Type: string(typ), Data: raw, CreatedAt: r.t.now,
	})
	return nil
}

func (r *run) audit(user, action string, s *stageRun, details map[string]any) error {
	entry := &store.AuditEntry{
		User: user, Source: auditSource(r.t.ctx), Action: action, Application: r.exec.Application, Pipeline: r.exec.PipelineName,
		ExecutionID: r.exec.ID, CreatedAt: r.t.now,
	}
	if s != nil {
		entry.StageID = s.row.ID
	}
	if details != nil {
		raw, err := json.Marshal(details)
		if err != nil {
			return err
		}
		entry.Details = raw
	}
	return r.t.tx.AuditInsert(r.t.ctx, entry)
}

// upstream returns the stages s requires.
func (r *run) upstream(s *stageRun) []*stageRun {
	var up []*stageRun
	for _, ref := range s.row.RequisiteStageRefIDs {
		for _, o := range r.stages {
			if o.row.RefID == ref {
				up = append(up, o)
			}
		}
	}
	return up
}

// downstream returns every stage that depends on s, directly or not.
func (r *run) downstream(s *stageRun) []*stageRun {
	seen := map[string]bool{s.row.RefID: true}
	var out []*stageRun
	for changed := true; changed; {
		changed = false
		for _, o := range r.stages {
			if seen[o.row.RefID] {
				continue
			}
			for _, ref := range o.row.RequisiteStageRefIDs {
				if seen[ref] {
					seen[o.row.RefID] = true
					out = append(out, o)
					changed = true
					break
				}
			}
		}
	}
	return out
}

// ancestors returns every stage s depends on, nearest first.
func (r *run) ancestors(s *stageRun) []*stageRun {
	var out []*stageRun
	seen := map[string]bool{}
	frontier := []*stageRun{s}
	for len(frontier) > 0 {
		var next []*stageRun
		for _, f := range frontier {
			for _, u := range r.upstream(f) {
				if !seen[u.row.ID] {
					seen[u.row.ID] = true
					out = append(out, u)
					next = append(next, u)
				}
			}
		}
		frontier = next
	}
	return out
}

// inWindow reports whether the stage's current task is one of its
// execution window's.
func (s *stageRun) inWindow() bool {
	b := s.bk()
	return b.Current < len(b.Tasks) && b.Tasks[b.Current].Window
}

// windowMs is how long the stage's execution window held it, which its
// timeout does not count (Orca subtracts execution-window time).
func (s *stageRun) windowMs() int64 {
	var first, last int64
	for _, t := range s.bk().Tasks {
		if !t.Window {
			continue
		}
		if first == 0 {
			first = t.StartTime
		}
		last = t.EndTime
	}
	if first == 0 || last < first {
		return 0
	}
	return last - first
}

// okToFollow reports whether a stage with this status lets downstream
// stages start.
func okToFollow(s status.Status) bool {
	return s == status.Succeeded || s == status.FailedContinue || s == status.Skipped
}

// failureStatus maps a failed task to the stage's status under its failure
// options (engine-semantics A2).
func (s *stageRun) failureStatus() status.Status {
	if s.isRollback() {
		return status.FailedContinue // the other rollback stages still run
	}
	failPipeline, continuePipeline := true, false
	if s.def != nil {
		failPipeline, continuePipeline = s.def.FailPipeline, s.def.ContinuePipeline
	}
	switch {
	case continuePipeline:
		return status.FailedContinue
	case !failPipeline:
		return status.Stopped
	default:
		return status.Terminal
	}
}

func (s *stageRun) completeOtherBranchesThenFail() bool {
	return s.def != nil && s.def.CompleteOtherBranchesThenFail
}

// finalStatus derives the execution's status from its stages once nothing
// is running (Orca's CompleteExecutionHandler.determineFinalStatus).
func (r *run) finalStatus() status.Status {
	if r.exec.Canceled {
		return status.Canceled
	}
	statuses := make([]status.Status, len(r.stages))
	for i, s := range r.stages {
		statuses[i] = s.row.Status
	}
	switch {
	case slices.Contains(statuses, status.Terminal):
		return status.Terminal
	case slices.Contains(statuses, status.Canceled):
		return status.Canceled
	}
	for _, s := range r.stages {
		if s.row.Status == status.Stopped && s.completeOtherBranchesThenFail() {
			return status.Terminal
		}
	}
	return status.Succeeded
}

func ptr[T any](v T) *T { return &v }

func ms(t time.Time) int64 { return t.UnixMilli() }

func msTime(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

type auditSourceKey struct{}

// WithAuditSource returns ctx saying where the operations called with it
// come from — the client's address and how it authenticated — for the
// audit entries they write.
func WithAuditSource(ctx context.Context, source string) context.Context {
	return context.WithValue(ctx, auditSourceKey{}, source)
}

// auditSource is WithAuditSource's value, or "engine" for what the engine
// does on its own.
func auditSource(ctx context.Context) string {
	if s, ok := ctx.Value(auditSourceKey{}).(string); ok {
		return s
	}
	return "engine"
}
