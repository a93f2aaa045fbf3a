package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// Rollback stages undo what earlier stages did. A stage type that changes
// something worth undoing (a Route stage moving an alias) puts in its
// outputs a compensation record:
//
//	"rollback:stage": {"type": "...", "name": "...", "context": {...}}
//
// When an execution fails and rollbackOnFailure is set (on the pipeline or
// on the stage that recorded it), or when someone asks for a rollback with
// Rollback, the engine appends one stage per record to the execution — in
// the reverse order in which the recording stages completed, each
// requiring the one before — and runs them as visible stages. They run even
// though the failure halted the execution, a failing one does not stop the
// others (it ends FAILED_CONTINUE). When they all succeed the execution
// keeps the status its original stages give it; when one fails, the
// change it should have undone is still there, so the execution ends
// TERMINAL and its state's rollbackFailed says which stage failed and why.
// The state's rolledBackBy says who rolled back: the user who asked, or
// rollbackOnFailure.
const (
	rollbackOutput = "rollback:stage"
	rollbackOfKey  = "rollbackOf" // context key of a rollback stage: the stage it undoes
	// rolledBackOnFailure is rolledBackBy when the engine rolled back a
	// failed execution because rollbackOnFailure asked it to.
	rolledBackOnFailure = "rollbackOnFailure"
)

// compensation is one "rollback:stage" record.
type compensation struct {
	Type    string         `json:"type"`
	Name    string         `json:"name"`
	Context map[string]any `json:"context"`
}

// isRollback reports whether s was added to undo another stage.
func (s *stageRun) isRollback() bool {
	_, ok := s.context()[rollbackOfKey]
	return ok && s.def == nil
}

// rollbackWanted reports whether s's compensation runs when the execution
// fails: rollbackOnFailure on the stage decides, else the pipeline's.
func (r *run) rollbackWanted(s *stageRun) bool {
	if s.def != nil && s.def.RollbackOnFailure != nil {
		return *s.def.RollbackOnFailure
	}
	return r.doc.RollbackOnFailure
}

// addRollbackStages appends the compensations of completed stages (those
// selected by want), recording that by rolled back, and returns how many it
// added.
func (r *run) addRollbackStages(by string, want func(*stageRun) bool) (int, error) {
	var done []*stageRun
	for _, s := range r.stages {
		if s.isRollback() || s.row.EndTime == nil || s.outs()[rollbackOutput] == nil || !want(s) {
			continue
		}
		done = append(done, s)
	}
	// Undo the last change first.
	slices.SortStableFunc(done, func(a, b *stageRun) int { return b.row.EndTime.Compare(*a.row.EndTime) })
	prev := ""
	for i, s := range done {
		raw, err := json.Marshal(s.outs()[rollbackOutput])
		if err != nil {
			return 0, err
		}
		var c compensation
		if err := json.Unmarshal(raw, &c); err != nil || c.Type == "" {
			return 0, fmt.Errorf("stage %q recorded an unusable %s: %s", s.row.Name, rollbackOutput, raw)
		}
		ctx := map[string]any{}
		for k, v := range c.Context {
			ctx[k] = v
		}
		ctx[rollbackOfKey] = s.row.ID
		ctxJSON, err := json.Marshal(ctx)
		if err != nil {
			return 0, err
		}
		row := &store.Stage{
			ID:          uuid.NewString(),
			ExecutionID: r.exec.ID,
			Seq:         r.nextSeq(),
			RefID:       fmt.Sprintf("rollback-%d-%d", len(r.stages)+1, i+1),
			Name:        cmpName(c.Name, "Roll back "+s.row.Name),
			Type:        c.Type,
			Status:      status.NotStarted,
			Context:     ctxJSON,
			Outputs:     json.RawMessage(`{}`),
			Tasks:       json.RawMessage(`{}`),
			UpdatedAt:   r.t.now,
		}
		if prev != "" {
			row.RequisiteStageRefIDs = []string{prev}
		}
		if err := r.t.tx.StageInsert(r.t.ctx, row); err != nil {
			return 0, fmt.Errorf("add rollback stage for %q: %w", s.row.Name, err)
		}
		r.stages = append(r.stages, &stageRun{r: r, row: row, ctxMap: ctx, outMap: map[string]any{}})
		prev = row.RefID
	}
	if len(done) > 0 {
		r.state.RolledBack = true
		r.state.RolledBackBy = by
		r.dirty = true
		if err := r.event("", apitype.EventExecutionRollback, apitype.ExecutionRollbackData{Stages: len(done)}); err != nil {
			return 0, err
		}
	}
	return len(done), nil
}

func (r *run) nextSeq() int {
	seq := 0
	for _, s := range r.stages {
		seq = max(seq, s.row.Seq+1)
	}
	return seq
}

func cmpName(name, def string) string {
	if name != "" {
		return name
	}
	return def
}

// Rollback runs the compensations of a finished execution's stages by
// hand (`sluice execution rollback`), whatever rollbackOnFailure says.
func (e *Engine) Rollback(ctx context.Context, executionID, user string) error {
	return e.change(ctx, executionID, func(t *txn, r *run) error {
		if !r.exec.Status.Complete() {
			return conflictf("execution %s is %s; cancel it or let it finish before rolling it back", r.exec.ID, r.exec.Status)
		}
		if r.state.RolledBack {
			return conflictf("execution %s was already rolled back", r.exec.ID)
		}
		n, err := r.addRollbackStages(user, func(*stageRun) bool { return true })
		if err != nil {
			return err
		}
		if n == 0 {
			return conflictf("execution %s has no stage that recorded how to undo it (Route stages and the Lambda@Edge association and promote stages do)", r.exec.ID)
		}
		if err := r.audit(user, "rollback", nil, map[string]any{"stages": n}); err != nil {
			return err
		}
		r.exec.EndTime = nil
		if err := r.setExecStatus(status.Running); err != nil {
			return err
		}
		if err := r.advance(); err != nil {
			return err
		}
		return nil
	})
}

// rollbackFailure says which rollback stages failed and why, or "" when
// none did.
func (r *run) rollbackFailure() string {
	var failed []string
	for _, s := range r.stages {
		if !s.isRollback() || !s.row.Status.Failed() {
			continue
		}
		msg := fmt.Sprintf("%q %s", s.row.Name, s.row.Status)
		if e, _ := s.context()["error"].(string); e != "" {
			msg += ": " + e
		}
		failed = append(failed, msg)
	}
	if len(failed) == 0 {
		return ""
	}
	return "the rollback failed, so what it should have undone is still in place: " + strings.Join(failed, "; ")
}
