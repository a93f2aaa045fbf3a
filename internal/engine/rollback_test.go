package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// changer records what it "changed" and how to undo it, as a Route stage
// does; undoer is the compensating stage type and logs what it undid.
type changer struct{}

func (changer) Name() string                               { return "change" }
func (changer) Validate(map[string]any) []stage.FieldError { return nil }
func (changer) Tasks(map[string]any) []string              { return []string{"change"} }
func (changer) Run(_ context.Context, t *stage.Task) (stage.Result, error) {
	what, _ := t.Context["what"].(string)
	return stage.Result{Status: status.Succeeded, Outputs: map[string]any{
		"rollback:stage": map[string]any{"type": "undo", "name": "Undo " + what, "context": map[string]any{"what": what}},
	}}, nil
}

type undoer struct {
	mu   sync.Mutex
	undo []string
}

func (*undoer) Name() string                               { return "undo" }
func (*undoer) Validate(map[string]any) []stage.FieldError { return nil }
func (*undoer) Tasks(map[string]any) []string              { return []string{"undo"} }
func (u *undoer) Run(_ context.Context, t *stage.Task) (stage.Result, error) {
	what, _ := t.Context["what"].(string)
	u.mu.Lock()
	u.undo = append(u.undo, what)
	u.mu.Unlock()
	if what == "broken" {
		return stage.Result{Status: status.Terminal, Error: "cannot undo broken"}, nil
	}
	return stage.Result{Status: status.Succeeded}, nil
}

func TestRollback(t *testing.T) {
	t.Parallel()
	u := &undoer{}
	b := setupWith(t, sqliteStore(t), changer{}, u)
	ctx := context.Background()

	t.Run("on failure, newest change first", func(t *testing.T) {
		p := b.save(t, `{"application":"app","name":"rb","rollbackOnFailure":true,"stages":[
			{"refId":"1","type":"change","name":"first","what":"a"},
			{"refId":"2","type":"change","name":"second","what":"broken","requisiteStageRefIds":["1"]},
			{"refId":"3","type":"change","name":"optedOut","what":"c","rollbackOnFailure":false,"requisiteStageRefIds":["2"]},
			{"refId":"4","type":"probe","name":"fails","result":"TERMINAL","requisiteStageRefIds":["3"]}]}`)
		exec := b.waitFor(t, b.trigger(t, p, nil).ID, "rollback to finish", func(e *store.Execution) bool { return e.Status.Complete() })
		if exec.Status != status.Terminal {
			t.Fatalf("execution %s, want TERMINAL after its rollback", describe(exec))
		}
		var names []string
		for _, s := range exec.Stages[4:] {
			names = append(names, s.Name+"="+string(s.Status))
		}
		// "broken" fails to undo; the rollback goes on with "a".
		if got := strings.Join(names, ","); got != "Undo broken=FAILED_CONTINUE,Undo a=SUCCEEDED" {
			t.Errorf("rollback stages: %s", got)
		}
		st := rollbackState(t, exec)
		if st.RolledBackBy != "rollbackOnFailure" || !strings.Contains(st.RollbackFailed, `"Undo broken" FAILED_CONTINUE: cannot undo broken`) {
			t.Errorf("state %+v: want rolledBackBy rollbackOnFailure and rollbackFailed naming Undo broken", st)
		}
		if err := b.engine.Rollback(ctx, exec.ID, "ann"); !errors.Is(err, engine.ErrConflict) {
			t.Errorf("second rollback: %v, want ErrConflict", err)
		}
	})

	t.Run("by hand, the restore fails", func(t *testing.T) {
		p := b.save(t, `{"application":"app","name":"rb4","stages":[{"refId":"1","type":"change","name":"only","what":"broken"}]}`)
		id := b.trigger(t, p, nil).ID
		b.waitStatus(t, id, status.Succeeded)
		if err := b.engine.Rollback(ctx, id, "ann"); err != nil {
			t.Fatal(err)
		}
		exec := b.waitFor(t, id, "manual rollback", func(e *store.Execution) bool {
			return len(e.Stages) == 2 && e.Status.Complete()
		})
		if exec.Status != status.Terminal || exec.Stages[1].Status != status.FailedContinue {
			t.Errorf("after a rollback whose restore failed: %s, want TERMINAL", describe(exec))
		}
		st := rollbackState(t, exec)
		if st.RolledBackBy != "ann" || !strings.Contains(st.RollbackFailed, "the rollback failed") {
			t.Errorf("state %+v: want rolledBackBy ann and rollbackFailed saying the rollback failed", st)
		}
	})

	t.Run("by hand after success", func(t *testing.T) {
		p := b.save(t, `{"application":"app","name":"rb2","stages":[{"refId":"1","type":"change","name":"only","what":"z"}]}`)
		id := b.trigger(t, p, nil).ID
		b.waitStatus(t, id, status.Succeeded)
		if err := b.engine.Rollback(ctx, id, "ann"); err != nil {
			t.Fatal(err)
		}
		exec := b.waitFor(t, id, "manual rollback", func(e *store.Execution) bool {
			return len(e.Stages) == 2 && e.Status.Complete()
		})
		if exec.Status != status.Succeeded || exec.Stages[1].Name != "Undo z" || exec.Stages[1].Status != status.Succeeded {
			t.Errorf("after a manual rollback: %s", describe(exec))
		}
		if st := rollbackState(t, exec); st.RolledBackBy != "ann" || st.RollbackFailed != "" {
			t.Errorf("state %+v: want rolledBackBy ann and no rollbackFailed", st)
		}
		p = b.save(t, `{"application":"app","name":"rb3","stages":[{"refId":"1","type":"probe","name":"nothing"}]}`)
		id = b.trigger(t, p, nil).ID
		b.waitStatus(t, id, status.Succeeded)
		if err := b.engine.Rollback(ctx, id, "ann"); !errors.Is(err, engine.ErrConflict) || !strings.Contains(err.Error(), "no stage") {
			t.Errorf("rollback with nothing to undo: %v", err)
		}
	})
}

type rollbackRecord struct {
	RolledBackBy   string `json:"rolledBackBy"`
	RollbackFailed string `json:"rollbackFailed"`
}

func rollbackState(t *testing.T, e *store.Execution) rollbackRecord {
	t.Helper()
	var st rollbackRecord
	if err := json.Unmarshal(e.State, &st); err != nil {
		t.Fatalf("execution state %s: %v", e.State, err)
	}
	return st
}
