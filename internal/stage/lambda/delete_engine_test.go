package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// triggerStage saves a pipeline of one stage, refId "1", and starts it.
func (r *engineRun) triggerStage(t *testing.T, name string, st map[string]any) string {
	t.Helper()
	st = withFields(st, map[string]any{"refId": "1"})
	doc, err := json.Marshal(map[string]any{"application": fixtureApp, "name": name, "stages": []any{st}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Parse(doc)
	if err != nil {
		t.Fatalf("parse pipeline: %v", err)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	saved, err := r.st.PipelineSave(ctx, &store.PipelineSaveParams{Application: p.Application, Name: p.Name, Document: raw, User: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	exec, err := r.e.Trigger(ctx, &engine.TriggerParams{Pipeline: saved, User: "tester"})
	if err != nil {
		t.Fatalf("trigger: %v", err)
	}
	return exec.ID
}

// TestDeleteRestartDeletesWhatItResolved: restarting an old Delete stage
// of $LATEST deletes the version it resolved the first time (gone by now,
// so nothing), not the version published since.
func TestDeleteRestartDeletesWhatItResolved(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	const fn = "restartdel"
	withVersions(t, e, fn, 2)
	r := startEngineRun(t, openStore(t, "sqlite"), Options{Accounts: e.accounts})
	id := r.triggerStage(t, "cleanup", deleteFields(fn, map[string]any{
		"name": "Delete", "version": "$LATEST", "prefixApplicationNameToFunction": false,
	}))
	if ex := r.waitDone(t, id); ex.Status != status.Succeeded {
		t.Fatalf("the Delete ended %s: %s", ex.Status, ex.Stages[0].Context)
	}
	if got := versionsOf(t, e, fn); !slices.Equal(got, []int{1}) {
		t.Fatalf("versions after the Delete = %v, want [1]", got)
	}
	// A later release publishes version 3.
	key := fmt.Sprintf("%s/3.zip", fn)
	e.put(t, key, variantZip(t, helloZip(t), 3))
	newStageRun(t, typeOf(t, e.accounts, DeployTypeName), "", deployFields(fn, key, map[string]any{"publish": true})).mustSucceed()
	if got := versionsOf(t, e, fn); !slices.Equal(got, []int{1, 3}) {
		t.Fatalf("versions after the new release = %v, want [1 3]", got)
	}

	if err := r.e.RestartStage(context.Background(), id, "1", "tester"); err != nil {
		t.Fatalf("restart the Delete: %v", err)
	}
	ex := r.waitFor(t, id, "the restarted Delete's end", func(e *store.Execution) bool {
		return e.Status.Complete() && e.Stages[0].Status.Complete()
	})
	if ex.Status != status.Succeeded {
		t.Fatalf("the restarted Delete ended %s: %s", ex.Status, ex.Stages[0].Context)
	}
	if got := versionsOf(t, e, fn); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("versions after restarting the Delete = %v, want [1 3]: it resolved version 2 the first time", got)
	}
}
