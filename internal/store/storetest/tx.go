package storetest

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

var txTests = []test{
	{"Commit", testTxCommit},
	{"RollbackOnError", testTxRollbackOnError},
	{"RollbackOnPanic", testTxRollbackOnPanic},
	{"ConflictKeepsTxUsable", testTxConflictKeepsTxUsable},
	{"FailedStatement", testTxFailedStatement},
	{"FailedHeldWrite", testTxFailedHeldWrite},
	{"ReadsSeeHeldWrites", testTxReadsSeeHeldWrites},
	{"PingAndDialect", testPingAndDialect},
}

// writeAll writes one of everything through q.
func writeAll(t *testing.T, q store.Querier) error {
	ctx := t.Context()
	if _, err := q.PipelineSave(ctx, &store.PipelineSaveParams{Application: "app", Name: "p", Document: doc("app", "p", 1)}); err != nil {
		return err
	}
	if err := q.ExecutionInsert(ctx, newExecution("e-1", "app", "p", status.NotStarted, at(0), 2)); err != nil {
		return err
	}
	if err := q.StageInsert(ctx, &store.Stage{ID: "extra", ExecutionID: "e-1", Seq: 9, Status: status.NotStarted}); err != nil {
		return err
	}
	if err := q.EventInsert(ctx, &store.Event{ExecutionID: "e-1", Type: "execution.status"}); err != nil {
		return err
	}
	return q.AuditInsert(ctx, &store.AuditEntry{User: "ann", Action: "trigger", ExecutionID: "e-1"})
}

// checkNothingWritten reports anything writeAll left behind.
func checkNothingWritten(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	if _, err := s.PipelineGet(ctx, "app", "p"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PipelineGet after rollback: %v, want ErrNotFound", err)
	}
	if _, err := s.ExecutionGet(ctx, "e-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ExecutionGet after rollback: %v, want ErrNotFound", err)
	}
	if evs := mustEvents(t, s, store.EventListParams{}); len(evs) != 0 {
		t.Errorf("EventList after rollback: %d events, want none", len(evs))
	}
	if entries, err := s.AuditList(ctx, &store.AuditListParams{}); err != nil || len(entries) != 0 {
		t.Errorf("AuditList after rollback: %d entries, %v; want none", len(entries), err)
	}
}

func testTxCommit(t *testing.T, s store.Store) {
	if err := s.InTx(t.Context(), func(tx store.Tx) error { return writeAll(t, tx) }); err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if _, err := s.PipelineGet(t.Context(), "app", "p"); err != nil {
		t.Errorf("PipelineGet after commit: %v", err)
	}
	if e := mustGet(t, s, "e-1"); len(e.Stages) != 3 {
		t.Errorf("ExecutionGet after commit: %d stages, want 3", len(e.Stages))
	}
	if evs := mustEvents(t, s, store.EventListParams{}); len(evs) != 1 {
		t.Errorf("EventList after commit: %d events, want 1", len(evs))
	}
}

func testTxRollbackOnError(t *testing.T, s store.Store) {
	errStop := errors.New("stop here")
	err := s.InTx(t.Context(), func(tx store.Tx) error {
		if err := writeAll(t, tx); err != nil {
			t.Errorf("writes in InTx: %v", err)
		}
		// Visible inside the transaction.
		if _, err := tx.ExecutionGet(t.Context(), "e-1"); err != nil {
			t.Errorf("ExecutionGet inside InTx: %v", err)
		}
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("InTx: got %v, want fn's error", err)
	}
	checkNothingWritten(t, s)
}

func testTxRollbackOnPanic(t *testing.T, s store.Store) {
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("InTx with a panicking fn: recovered %v, want the panic to pass through", p)
			}
		}()
		_ = s.InTx(t.Context(), func(tx store.Tx) error {
			if err := writeAll(t, tx); err != nil {
				t.Errorf("writes in InTx: %v", err)
			}
			panic("boom")
		})
	}()
	// The connection went back to the pool: the store still works.
	checkNothingWritten(t, s)
	if err := writeAll(t, s); err != nil {
		t.Errorf("writes after the panic: %v", err)
	}
}

// testTxConflictKeepsTxUsable inserts an execution and a stage whose IDs
// are taken inside InTx: ErrConflict, and the transaction carries on (a
// re-run task treats "already inserted" as done). On Postgres a unique
// violation would abort the transaction; the store must avoid raising one.
func testTxConflictKeepsTxUsable(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustInsert(t, s, newExecution("taken", "app", "p", status.Running, at(0), 1))
	err := s.InTx(ctx, func(tx store.Tx) error {
		err := tx.ExecutionInsert(ctx, newExecution("taken", "app", "p", status.Running, at(1), 0))
		checkErr(t, "ExecutionInsert of a taken ID in InTx", err, store.ErrConflict, "taken")
		err = tx.StageInsert(ctx, &store.Stage{ID: "taken-s0", ExecutionID: "taken", Seq: 7, Status: status.NotStarted})
		checkErr(t, "StageInsert of a taken ID in InTx", err, store.ErrConflict, "taken-s0")
		err = tx.StageInsert(ctx, &store.Stage{ID: "new", ExecutionID: "taken", Seq: 0, Status: status.NotStarted})
		checkErr(t, "StageInsert of a taken Seq in InTx", err, store.ErrConflict, "new")
		return tx.EventInsert(ctx, &store.Event{ExecutionID: "taken", Type: "after.conflict"})
	})
	if err != nil {
		t.Fatalf("InTx after conflicts: %v", err)
	}
	if evs := mustEvents(t, s, store.EventListParams{}); len(evs) != 1 {
		t.Errorf("EventList: %d events, want the one written after the conflicts", len(evs))
	}
	check(t, "ExecutionGet", len(mustGet(t, s, "taken").Stages), 1)
}

// testTxFailedStatement makes a statement fail inside InTx (a stage for a
// missing execution) and lets fn return that error: the transaction rolls
// back, the error comes back unchanged, and the store is usable afterwards.
// (On Postgres such a failure aborts the transaction, so fn must return.)
func testTxFailedStatement(t *testing.T, s store.Store) {
	err := s.InTx(t.Context(), func(tx store.Tx) error {
		if err := tx.AuditInsert(t.Context(), &store.AuditEntry{User: "ann", Action: "x"}); err != nil {
			return err
		}
		return tx.StageInsert(t.Context(), &store.Stage{ID: "orphan", ExecutionID: "missing", Status: status.NotStarted})
	})
	checkErr(t, "InTx returning a failed statement's error", err, store.ErrNotFound, "missing")
	if entries, err := s.AuditList(t.Context(), &store.AuditListParams{}); err != nil || len(entries) != 0 {
		t.Errorf("AuditList after rollback: %d entries, %v; want none", len(entries), err)
	}
	mustInsert(t, s, newExecution("free", "app", "p", status.Running, at(1), 0))
}

// testTxFailedHeldWrite updates a stage that does not exist, among other
// writes, inside InTx. A store may report the error from the call or hold
// the write and report it from the commit (store.Tx); either way InTx
// fails with ErrNotFound naming the stage and nothing is written.
func testTxFailedHeldWrite(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustInsert(t, s, newExecution("e-1", "app", "p", status.Running, at(0), 1))
	err := s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.EventInsert(ctx, &store.Event{ExecutionID: "e-1", Type: "before"}); err != nil {
			return err
		}
		err := tx.StageUpdate(ctx, &store.Stage{ID: "ghost", ExecutionID: "e-1", Status: status.Running})
		if err != nil {
			return err
		}
		return tx.EventInsert(ctx, &store.Event{ExecutionID: "e-1", Type: "after"})
	})
	checkErr(t, "InTx with an update of a missing stage", err, store.ErrNotFound, "ghost")
	if evs := mustEvents(t, s, store.EventListParams{}); len(evs) != 0 {
		t.Errorf("EventList after the failed transaction: %d events, want none", len(evs))
	}
}

// testTxReadsSeeHeldWrites reads inside InTx after writes that a store may
// hold: the read sees them, and the IDs of held inserts are set once it
// returns.
func testTxReadsSeeHeldWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustInsert(t, s, newExecution("e-1", "app", "p", status.Running, at(0), 1))
	err := s.InTx(ctx, func(tx store.Tx) error {
		e, err := tx.ExecutionLock(ctx, "e-1")
		if err != nil {
			return err
		}
		e.Stages[0].Status = status.Succeeded
		if err := tx.StageUpdate(ctx, e.Stages[0]); err != nil {
			return err
		}
		e.Status = status.Succeeded
		if err := tx.ExecutionUpdate(ctx, e); err != nil {
			return err
		}
		ev := &store.Event{ExecutionID: "e-1", Type: "done"}
		if err := tx.EventInsert(ctx, ev); err != nil {
			return err
		}
		got, err := tx.ExecutionGet(ctx, "e-1")
		if err != nil {
			return err
		}
		check(t, "execution status read after its held update", got.Status, status.Succeeded)
		check(t, "stage status read after its held update", got.Stages[0].Status, status.Succeeded)
		if ev.ID == 0 {
			t.Error("event ID still unset after a read in the same transaction")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	check(t, "execution status after commit", mustGet(t, s, "e-1").Status, status.Succeeded)
}

func testPingAndDialect(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping() = %v, want nil", err)
	}
	switch d := s.Dialect(); d {
	case store.DialectSQLite, store.DialectPostgres:
	default:
		t.Errorf("Dialect() = %q", d)
	}
}

var jsonTests = []test{
	{"RoundTrip", testJSONRoundTrip},
	{"Invalid", testJSONInvalid},
}

// odd is valid JSON that a re-encoder would change: whitespace, key order,
// duplicate keys, escapes, big numbers.
var odd = []json.RawMessage{
	json.RawMessage(`{ "b" : 1,  "a":[1, 2.50, 1e400] ,"a":"dup", "u":"\u00e9é\n\"", "n":null }`),
	json.RawMessage("[\n\t{\"z\":true},\n\t{}\n]"),
	json.RawMessage(`"just a string"`),
	json.RawMessage(`12345678901234567890`),
	json.RawMessage(`null`),
}

func testJSONRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, raw := range odd {
		name := string(rune('a' + i))
		p := mustSave(t, s, &store.PipelineSaveParams{Application: "app", Name: name, Document: raw})
		got, err := s.PipelineRevisionGet(ctx, p.ID, 1)
		if err != nil {
			t.Fatalf("PipelineRevisionGet: %v", err)
		}
		if string(got.Document) != string(raw) {
			t.Errorf("pipeline document:\n got %q\nwant %q", got.Document, raw)
		}

		e := newExecution("e-"+name, "app", name, status.Running, at(0), 1)
		e.Pipeline, e.Trigger, e.State = raw, raw, raw
		st := e.Stages[0]
		st.Context, st.Outputs, st.Tasks = raw, raw, raw
		mustInsert(t, s, e)
		ev := &store.Event{ExecutionID: e.ID, Type: "x", Data: raw}
		if err := s.EventInsert(ctx, ev); err != nil {
			t.Fatalf("EventInsert: %v", err)
		}
		a := &store.AuditEntry{User: "ann", Action: "x", ExecutionID: e.ID, Details: raw}
		if err := s.AuditInsert(ctx, a); err != nil {
			t.Fatalf("AuditInsert: %v", err)
		}

		g := mustGet(t, s, e.ID)
		evs := mustEvents(t, s, store.EventListParams{ExecutionID: e.ID})
		entries, err := s.AuditList(ctx, &store.AuditListParams{ExecutionID: e.ID})
		if err != nil || len(evs) != 1 || len(entries) != 1 {
			t.Fatalf("reading back: %d events, %d audit entries, %v", len(evs), len(entries), err)
		}
		for what, got := range map[string]json.RawMessage{
			"execution pipeline": g.Pipeline, "execution trigger": g.Trigger, "execution state": g.State,
			"stage context": g.Stages[0].Context, "stage outputs": g.Stages[0].Outputs, "stage tasks": g.Stages[0].Tasks,
			"event data": evs[0].Data, "audit details": entries[0].Details,
		} {
			if string(got) != string(raw) {
				t.Errorf("%s:\n got %q\nwant %q", what, got, raw)
			}
		}
	}

	// nil stays nil (SQL NULL), distinct from the JSON null above.
	e := newExecution("e-nil", "app", "p", status.Running, at(0), 1)
	e.Pipeline, e.Trigger, e.State = nil, nil, nil
	e.Stages[0].Context = nil
	mustInsert(t, s, e)
	g := mustGet(t, s, "e-nil")
	if g.Pipeline != nil || g.Trigger != nil || g.State != nil || g.Stages[0].Context != nil || g.Stages[0].Outputs != nil {
		t.Errorf("nil JSON read back as %q %q %q %q %q, want nil", g.Pipeline, g.Trigger, g.State, g.Stages[0].Context, g.Stages[0].Outputs)
	}
}

func testJSONInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	bad := json.RawMessage(`{"open":`)
	e := newExecution("e-1", "app", "p", status.Running, at(0), 1)
	e.State = bad
	if err := s.ExecutionInsert(ctx, e); err == nil {
		t.Error("ExecutionInsert with invalid state JSON: got nil error")
	}
	e = newExecution("e-2", "app", "p", status.Running, at(0), 1)
	e.Stages[0].Outputs = bad
	if err := s.ExecutionInsert(ctx, e); err == nil {
		t.Error("ExecutionInsert with invalid stage outputs: got nil error")
	}
	for _, id := range []string{"e-1", "e-2"} {
		if _, err := s.ExecutionGet(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ExecutionGet(%s) after rejected insert: %v, want ErrNotFound", id, err)
		}
	}
	mustInsert(t, s, newExecution("e-3", "app", "p", status.Running, at(0), 0))
	if err := s.EventInsert(ctx, &store.Event{ExecutionID: "e-3", Type: "x", Data: bad}); err == nil {
		t.Error("EventInsert with invalid data: got nil error")
	}
	if err := s.AuditInsert(ctx, &store.AuditEntry{Action: "x", Details: bad}); err == nil {
		t.Error("AuditInsert with invalid details: got nil error")
	}
}
