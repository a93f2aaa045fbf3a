package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

var executionTests = []test{
	{"InsertAndGet", testExecutionInsertAndGet},
	{"InsertFillsIDs", testExecutionInsertFillsIDs},
	{"InsertConflict", testExecutionInsertConflict},
	{"GetNotFound", testExecutionGetNotFound},
	{"Update", testExecutionUpdate},
	{"Lock", testExecutionLock},
	{"LockSeesWrites", testExecutionLockSeesWrites},
	{"ListByConfig", testExecutionListByConfig},
}

var stageTests = []test{
	{"Insert", testStageInsert},
	{"Update", testStageUpdate},
}

func testExecutionInsertAndGet(t *testing.T, s store.Store) {
	e := newExecution("e-1", "app", "deploy", status.Running, at(0), 3)
	e.State = json.RawMessage(`{"paused":null}`)
	e.StartTime = ptr(at(1))
	e.Canceled = true
	e.PipelineRevision = 7
	// Stages arrive out of Seq order; ExecutionGet orders them.
	e.Stages[0], e.Stages[2] = e.Stages[2], e.Stages[0]
	e.Stages[1].Status = status.Succeeded
	e.Stages[1].StartTime = ptr(at(2))
	e.Stages[1].EndTime = ptr(at(3))
	e.Stages[1].Outputs = json.RawMessage(`{"version":"3"}`)
	e.Stages[1].Tasks = json.RawMessage(`[{"name":"wait","status":"SUCCEEDED"}]`)
	e.Stages[2].RequisiteStageRefIDs = []string{"a", "b", "c"}
	mustInsert(t, s, e)

	got := mustGet(t, s, "e-1")
	check(t, "ExecutionGet", got, loaded(e))
	for i, st := range got.Stages {
		if st.Seq != i {
			t.Errorf("stage %d has Seq %d; want stages ordered by Seq", i, st.Seq)
		}
	}
}

func testExecutionInsertFillsIDs(t *testing.T, s store.Store) {
	e := newExecution("", "app", "deploy", status.NotStarted, at(0), 2)
	for _, st := range e.Stages {
		st.ID = ""
		st.ExecutionID = ""
	}
	mustInsert(t, s, e)
	if e.ID == "" {
		t.Fatal("ExecutionInsert left ID empty")
	}
	for i, st := range e.Stages {
		if st.ID == "" || st.ExecutionID != e.ID {
			t.Errorf("stage %d: ID %q ExecutionID %q, want a fresh ID and %q", i, st.ID, st.ExecutionID, e.ID)
		}
	}
	if e.Stages[0].ID == e.Stages[1].ID {
		t.Errorf("two stages got the same ID %q", e.Stages[0].ID)
	}
	check(t, "ExecutionGet", mustGet(t, s, e.ID), loaded(e))
}

func testExecutionInsertConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustInsert(t, s, newExecution("e-1", "app", "deploy", status.NotStarted, at(0), 2))

	err := s.ExecutionInsert(ctx, newExecution("e-1", "app", "deploy", status.NotStarted, at(1), 0))
	checkErr(t, "ExecutionInsert with a taken ID", err, store.ErrConflict, "e-1")

	// A stage ID that is taken fails the whole insert: no execution is
	// left without its stages.
	e2 := newExecution("e-2", "app", "deploy", status.NotStarted, at(1), 2)
	e2.Stages[1].ID = "e-1-s0"
	err = s.ExecutionInsert(ctx, e2)
	checkErr(t, "ExecutionInsert with a taken stage ID", err, store.ErrConflict, "e-2")
	_, err = s.ExecutionGet(ctx, "e-2")
	checkErr(t, "ExecutionGet after failed insert", err, store.ErrNotFound)

	e3 := newExecution("e-3", "app", "deploy", status.NotStarted, at(1), 2)
	e3.Stages[1].Seq = 0
	err = s.ExecutionInsert(ctx, e3)
	checkErr(t, "ExecutionInsert with two stages of one Seq", err, store.ErrConflict, "e-3")
}

func testExecutionGetNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.ExecutionGet(ctx, "nope")
	checkErr(t, "ExecutionGet", err, store.ErrNotFound, "execution nope")
	err = s.ExecutionUpdate(ctx, newExecution("nope", "app", "deploy", status.Running, at(0), 0))
	checkErr(t, "ExecutionUpdate", err, store.ErrNotFound, "execution nope")
	_, err = s.ExecutionLock(ctx, "nope")
	checkErr(t, "ExecutionLock outside InTx", err, store.ErrNotFound, "execution nope")
}

func testExecutionUpdate(t *testing.T, s store.Store) {
	e := newExecution("e-1", "app", "deploy", status.NotStarted, at(0), 2)
	mustInsert(t, s, e)

	// What the execution was created as is fixed; what its run changes is
	// written.
	u := &store.Execution{
		ID:               "e-1",
		Application:      "app2",
		PipelineName:     "deploy2",
		PipelineConfigID: "cfg-2",
		PipelineRevision: 9,
		Status:           status.Terminal,
		Pipeline:         json.RawMessage(`{"changed":true}`),
		Trigger:          nil,
		State:            json.RawMessage(`{"cancelReason":"because"}`),
		User:             "bob",
		Canceled:         true,
		CreatedAt:        at(5),
		StartTime:        ptr(at(6)),
		EndTime:          ptr(at(7)),
		UpdatedAt:        at(8),
	}
	if err := s.ExecutionUpdate(t.Context(), u); err != nil {
		t.Fatalf("ExecutionUpdate: %v", err)
	}
	want := loaded(e) // stages are not touched
	want.Status, want.State, want.Canceled = u.Status, u.State, u.Canceled
	want.StartTime, want.EndTime, want.UpdatedAt = u.StartTime, u.EndTime, u.UpdatedAt
	check(t, "ExecutionGet after update", mustGet(t, s, "e-1"), want)

	// Back to no times and a zero UpdatedAt, which the store fills.
	u.StartTime, u.EndTime, u.UpdatedAt = nil, nil, time.Time{}
	before := time.Now().Truncate(time.Microsecond)
	if err := s.ExecutionUpdate(t.Context(), u); err != nil {
		t.Fatalf("ExecutionUpdate: %v", err)
	}
	got := mustGet(t, s, "e-1")
	if got.StartTime != nil || got.EndTime != nil {
		t.Errorf("after clearing times: StartTime %v EndTime %v, want nil", got.StartTime, got.EndTime)
	}
	if got.UpdatedAt.Before(before) || !got.UpdatedAt.Equal(u.UpdatedAt) {
		t.Errorf("zero UpdatedAt: stored %v, struct %v, want now (after %v) in both", got.UpdatedAt, u.UpdatedAt, before)
	}
}

func testExecutionLock(t *testing.T, s store.Store) {
	e := newExecution("e-1", "app", "deploy", status.Running, at(0), 3)
	mustInsert(t, s, e)
	err := s.InTx(t.Context(), func(tx store.Tx) error {
		got, err := tx.ExecutionLock(t.Context(), "e-1")
		if err != nil {
			return err
		}
		check(t, "ExecutionLock", got, loaded(e))
		_, err = tx.ExecutionLock(t.Context(), "nope")
		checkErr(t, "ExecutionLock of a missing execution", err, store.ErrNotFound, "execution nope")
		return nil
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

func testExecutionListByConfig(t *testing.T, s store.Store) {
	ctx := t.Context()
	execs := []*store.Execution{
		newExecution("e-4", "app", "deploy", status.Running, at(4), 1),
		newExecution("e-1", "app", "deploy", status.Succeeded, at(1), 1),
		newExecution("e-3", "app", "deploy", status.NotStarted, at(3), 1),
		newExecution("e-2", "app", "deploy", status.Running, at(2), 1),
		newExecution("e-0", "app", "deploy", status.Running, at(2), 1), // same time as e-2: ID breaks the tie
		newExecution("x-1", "app", "other", status.Running, at(0), 1),
	}
	mustInsert(t, s, execs...)

	for _, tc := range []struct {
		name     string
		config   string
		statuses []status.Status
		want     []string
	}{
		{"running", "cfg-app-deploy", []status.Status{status.Running}, []string{"e-0", "e-2", "e-4"}},
		{"running or not started", "cfg-app-deploy", []status.Status{status.Running, status.NotStarted}, []string{"e-0", "e-2", "e-3", "e-4"}},
		{"any status", "cfg-app-deploy", nil, []string{"e-1", "e-0", "e-2", "e-3", "e-4"}},
		{"none match", "cfg-app-deploy", []status.Status{status.Paused}, []string{}},
		{"other config", "cfg-app-other", nil, []string{"x-1"}},
	} {
		got, err := s.ExecutionListByConfig(ctx, tc.config, tc.statuses)
		if err != nil {
			t.Fatalf("ExecutionListByConfig(%s): %v", tc.name, err)
		}
		check(t, "ExecutionListByConfig("+tc.name+")", executionIDs(got), tc.want)
		for _, e := range got {
			if e.Stages != nil {
				t.Errorf("ExecutionListByConfig(%s): %s has stages, want nil", tc.name, e.ID)
			}
		}
	}
	got, err := s.ExecutionListByConfig(ctx, "cfg-app-other", nil)
	if err != nil || len(got) != 1 {
		t.Fatalf("ExecutionListByConfig: %d results, %v", len(got), err)
	}
	check(t, "ExecutionListByConfig row", got[0], summary(execs[5]))
}

func testStageInsert(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newExecution("e-1", "app", "deploy", status.Running, at(0), 2)
	mustInsert(t, s, e)

	rollback := &store.Stage{
		ID: "rb", ExecutionID: "e-1", Seq: 5, RefID: "rb1", Name: "Rollback", Type: "Aws.LambdaTrafficRoutingStage",
		RequisiteStageRefIDs: []string{"2"}, Status: status.NotStarted,
		Context: json.RawMessage(`{"rollback":true}`), UpdatedAt: at(9),
	}
	if err := s.StageInsert(ctx, rollback); err != nil {
		t.Fatalf("StageInsert: %v", err)
	}
	// Seq 1 < 5 but inserted later: ordering is by Seq, not insertion.
	synthetic := &store.Stage{ExecutionID: "e-1", Seq: 3, RefID: "syn", Name: "Synthetic", Type: "wait", Status: status.NotStarted}
	if err := s.StageInsert(ctx, synthetic); err != nil {
		t.Fatalf("StageInsert without ID: %v", err)
	}
	if synthetic.ID == "" || synthetic.UpdatedAt.IsZero() {
		t.Errorf("StageInsert without ID or UpdatedAt: got ID %q UpdatedAt %v, want both filled", synthetic.ID, synthetic.UpdatedAt)
	}
	want := loaded(e)
	want.Stages = append(want.Stages, synthetic, rollback)
	check(t, "ExecutionGet after StageInsert", mustGet(t, s, "e-1"), want)

	dupID := *rollback
	dupID.Seq = 6
	checkErr(t, "StageInsert with a taken ID", s.StageInsert(ctx, &dupID), store.ErrConflict, "rb")
	dupSeq := *rollback
	dupSeq.ID = "rb2"
	checkErr(t, "StageInsert with a taken Seq", s.StageInsert(ctx, &dupSeq), store.ErrConflict, "rb2")
	orphan := *rollback
	orphan.ID, orphan.ExecutionID = "orphan", "nope"
	checkErr(t, "StageInsert into a missing execution", s.StageInsert(ctx, &orphan), store.ErrNotFound, "execution nope")
}

func testStageUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newExecution("e-1", "app", "deploy", status.Running, at(0), 3)
	mustInsert(t, s, e)

	// The stage's place in the execution is fixed; what its run changes is
	// written.
	u := &store.Stage{
		ID: "e-1-s1", ExecutionID: "e-1", Seq: 10, RefID: "r", Name: "renamed", Type: "manualJudgment",
		RequisiteStageRefIDs: []string{"x", "y"}, Status: status.Succeeded,
		Context: json.RawMessage(`{"judgment":"continue"}`), Outputs: json.RawMessage(`{"a":1}`),
		Tasks: json.RawMessage(`[]`), StartTime: ptr(at(1)), EndTime: ptr(at(2)), UpdatedAt: at(3),
	}
	if err := s.StageUpdate(ctx, u); err != nil {
		t.Fatalf("StageUpdate: %v", err)
	}
	want := loaded(e)
	w := want.Stages[1]
	w.Status, w.Context, w.Outputs, w.Tasks = u.Status, u.Context, u.Outputs, u.Tasks
	w.StartTime, w.EndTime, w.UpdatedAt = u.StartTime, u.EndTime, u.UpdatedAt
	check(t, "ExecutionGet after StageUpdate", mustGet(t, s, "e-1"), want)

	missing := *u
	missing.ID = "nope"
	checkErr(t, "StageUpdate of a missing stage", s.StageUpdate(ctx, &missing), store.ErrNotFound, "stage nope")
	elsewhere := *u
	elsewhere.ExecutionID = "e-2"
	checkErr(t, "StageUpdate under another execution", s.StageUpdate(ctx, &elsewhere), store.ErrNotFound, "e-1-s1", "e-2")
}

// testExecutionLockSeesWrites locks an execution again and again between
// writes of every kind — committed, rolled back, outside a transaction,
// without a lock, a stage added — and checks that each lock returns the
// stages a fresh read does. A store may keep stages between transactions
// (SQLite's stage cache); this is what it must keep true.
func testExecutionLockSeesWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustInsert(t, s, newExecution("e-1", "app", "deploy", status.Running, at(0), 2))
	errRollback := errors.New("roll back")
	lock := func(what string, write func(tx store.Tx, e *store.Execution) error) {
		t.Helper()
		// Read first: an in-memory SQLite store has one connection, which
		// the transaction holds.
		want := mustGet(t, s, "e-1").Stages
		err := s.InTx(ctx, func(tx store.Tx) error {
			e, err := tx.ExecutionLock(ctx, "e-1")
			if err != nil {
				return err
			}
			check(t, fmt.Sprintf("%s: ExecutionLock's stages", what), e.Stages, want)
			if write == nil {
				return nil
			}
			return write(tx, e)
		})
		if err != nil && !errors.Is(err, errRollback) {
			t.Fatalf("%s: %v", what, err)
		}
	}
	numbered := func(i int) json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)) }

	lock("first lock", func(tx store.Tx, e *store.Execution) error {
		e.Stages[0].Status, e.Stages[0].Context, e.Stages[0].StartTime = status.Running, numbered(1), ptr(at(1))
		return tx.StageUpdate(ctx, e.Stages[0])
	})
	lock("after a committed update", func(tx store.Tx, e *store.Execution) error {
		e.Stages[1].Context = numbered(2)
		if err := tx.StageUpdate(ctx, e.Stages[1]); err != nil {
			return err
		}
		return errRollback
	})
	lock("after a rolled-back update", nil)
	u := mustGet(t, s, "e-1").Stages[1]
	u.Status, u.Context = status.Running, numbered(3)
	if err := s.StageUpdate(ctx, u); err != nil {
		t.Fatal(err)
	}
	lock("after an update outside a transaction", nil)
	err := s.InTx(ctx, func(tx store.Tx) error {
		u.Outputs = numbered(4)
		return tx.StageUpdate(ctx, u)
	})
	if err != nil {
		t.Fatal(err)
	}
	lock("after an update without a lock", func(tx store.Tx, e *store.Execution) error {
		return tx.StageInsert(ctx, &store.Stage{
			ID: "e-1-added", ExecutionID: "e-1", Seq: 5, RefID: "added", Name: "added", Type: "wait",
			Status: status.NotStarted, UpdatedAt: at(5),
		})
	})
	lock("after a stage was added", func(tx store.Tx, e *store.Execution) error {
		// Two updates of one stage in one transaction, the last one wins.
		for i := range 2 {
			e.Stages[1].Context = numbered(10 + i)
			if err := tx.StageUpdate(ctx, e.Stages[1]); err != nil {
				return err
			}
		}
		return nil
	})
	lock("after two updates of a stage", nil)
	got := mustGet(t, s, "e-1").Stages
	var last struct{ N int }
	if len(got) == 3 {
		_ = json.Unmarshal(got[1].Context, &last)
	}
	if len(got) != 3 || got[2].ID != "e-1-added" || last.N != 11 {
		t.Errorf("at the end the stages are %s, want the second with the last of its updates and the added stage last", show(got))
	}
}
