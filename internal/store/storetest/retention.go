package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

var retentionTests = []test{
	{"ByCount", testPurgeByCount},
	{"ByAge", testPurgeByAge},
	{"KeepsActive", testPurgeKeepsActive},
	{"KeepsReferenced", testPurgeKeepsReferenced},
	{"Batches", testPurgeBatches},
	{"Deliveries", testPurgeDeliveries},
	{"Applications", testExecutionApplications},
}

func purger(t *testing.T, s store.Store) store.Purger {
	t.Helper()
	p, ok := s.(store.Purger)
	if !ok {
		t.Fatalf("%T does not implement store.Purger", s)
	}
	return p
}

func mustPurge(t *testing.T, s store.Store, params store.ExecutionPurgeParams) *store.ExecutionPurgeResult {
	t.Helper()
	res, err := purger(t, s).ExecutionPurge(t.Context(), &params)
	if err != nil {
		t.Fatalf("ExecutionPurge(%+v): %v", params, err)
	}
	return res
}

// remaining lists the IDs of the executions left, newest first.
func remaining(t *testing.T, s store.Store) []string {
	t.Helper()
	var ids []string
	for _, page := range listAll(t, s, store.ExecutionListParams{Limit: 1000}) {
		ids = append(ids, page...)
	}
	return ids
}

// finished returns an execution of app that succeeded, created and ended
// at at(n), with one stage and two events, written as one batch (a
// purge counts events, not batches).
func finished(t *testing.T, s store.Store, id, app string, n int) *store.Execution {
	t.Helper()
	e := newExecution(id, app, "p", status.Succeeded, at(n), 1)
	e.EndTime = ptr(at(n))
	mustInsert(t, s, e)
	err := s.EventInsert(t.Context(), &store.Event{ExecutionID: id, Type: "execution.status", CreatedAt: at(n)},
		&store.Event{ExecutionID: id, Type: "stage.status", CreatedAt: at(n)})
	if err != nil {
		t.Fatalf("EventInsert(%s): %v", id, err)
	}
	return e
}

func testPurgeByCount(t *testing.T, s store.Store) {
	for i := 1; i <= 5; i++ {
		finished(t, s, fmt.Sprintf("a%d", i), "a", i)
	}
	for i := 1; i <= 3; i++ {
		finished(t, s, fmt.Sprintf("b%d", i), "b", i)
	}
	res := mustPurge(t, s, store.ExecutionPurgeParams{Application: "a", Keep: 2, EndedBefore: at(1000)})
	check(t, "ExecutionPurge(keep 2)", res, &store.ExecutionPurgeResult{Executions: 3, Stages: 3, Events: 6})
	check(t, "executions left", remaining(t, s), []string{"a5", "a4", "b3", "b2", "b1"})
	check(t, "events of a deleted execution", eventIDs(mustEvents(t, s, store.EventListParams{ExecutionID: "a1"})), []int64{})
	if evs := mustEvents(t, s, store.EventListParams{ExecutionID: "a4"}); len(evs) != 2 {
		t.Errorf("a kept execution has %d events, want 2", len(evs))
	}
	if got := mustGet(t, s, "a4"); len(got.Stages) != 1 {
		t.Errorf("a kept execution has %d stages, want 1", len(got.Stages))
	}
	// Nothing more to delete, and a Keep above the count deletes nothing.
	check(t, "ExecutionPurge again", mustPurge(t, s, store.ExecutionPurgeParams{Application: "a", Keep: 2, EndedBefore: at(1000)}), &store.ExecutionPurgeResult{})
	check(t, "ExecutionPurge(keep 10)", mustPurge(t, s, store.ExecutionPurgeParams{Application: "b", Keep: 10, EndedBefore: at(1000)}), &store.ExecutionPurgeResult{})
	// No limit at all deletes nothing.
	check(t, "ExecutionPurge(no limit)", mustPurge(t, s, store.ExecutionPurgeParams{Application: "b", EndedBefore: at(1000)}), &store.ExecutionPurgeResult{})
	check(t, "executions left at the end", remaining(t, s), []string{"a5", "a4", "b3", "b2", "b1"})
}

func testPurgeByAge(t *testing.T, s store.Store) {
	for i := 1; i <= 4; i++ {
		finished(t, s, fmt.Sprintf("a%d", i), "a", i)
	}
	res := mustPurge(t, s, store.ExecutionPurgeParams{Application: "a", CreatedBefore: at(3), EndedBefore: at(1000)})
	check(t, "ExecutionPurge(created before 3)", res.Executions, int64(2))
	check(t, "executions left", remaining(t, s), []string{"a4", "a3"})
	// Either limit ages an execution out.
	res = mustPurge(t, s, store.ExecutionPurgeParams{Application: "a", Keep: 1, CreatedBefore: at(1), EndedBefore: at(1000)})
	check(t, "ExecutionPurge(keep 1 or created before 1)", res.Executions, int64(1))
	check(t, "executions left after both limits", remaining(t, s), []string{"a4"})
}

func testPurgeKeepsActive(t *testing.T, s store.Store) {
	for i, st := range []status.Status{status.NotStarted, status.Running, status.Paused} {
		mustInsert(t, s, newExecution(fmt.Sprintf("active-%d", i), "a", "p", st, at(i), 1))
	}
	// Ended after EndedBefore: its followers (pipeline triggers) may not
	// have read it yet.
	late := newExecution("ended-late", "a", "p", status.Terminal, at(3), 1)
	late.EndTime = ptr(at(50))
	mustInsert(t, s, late)
	// Final, with no end time: its UpdatedAt stands for it.
	noEnd := newExecution("no-end", "a", "p", status.Canceled, at(4), 0)
	mustInsert(t, s, noEnd)
	finished(t, s, "done", "a", 5)
	res := mustPurge(t, s, store.ExecutionPurgeParams{Application: "a", CreatedBefore: at(1000), EndedBefore: at(10)})
	check(t, "ExecutionPurge", res.Executions, int64(2))
	check(t, "executions left", remaining(t, s), []string{"ended-late", "active-2", "active-1", "active-0"})
}

func testPurgeKeepsReferenced(t *testing.T, s store.Store) {
	child := func(id, parent string, st status.Status, n int) {
		e := newExecution(id, "a", "child", st, at(n), 1)
		e.Trigger = json.RawMessage(fmt.Sprintf(`{"type":"pipeline","user":"ann","parentExecution":{"id":%q,"application":"a"},"parentPipelineStageId":"s1"}`, parent))
		if st.Complete() {
			e.EndTime = ptr(at(n))
		}
		mustInsert(t, s, e)
	}
	// A running parent waits for its finished child: both stay.
	mustInsert(t, s, newExecution("parent-running", "a", "p", status.Running, at(1), 1))
	child("child-of-running", "parent-running", status.Succeeded, 2)
	// A finished parent of a running child stays, and so does the child.
	finished(t, s, "parent-of-running", "a", 3)
	child("child-running", "parent-of-running", status.Running, 4)
	// A finished parent of a finished child: both go.
	finished(t, s, "parent-done", "a", 5)
	child("child-done", "parent-done", status.Succeeded, 6)
	// A finished execution whose parent is gone goes.
	child("orphan", "deleted-long-ago", status.Succeeded, 7)

	res := mustPurge(t, s, store.ExecutionPurgeParams{Application: "a", CreatedBefore: at(1000), EndedBefore: at(1000)})
	check(t, "ExecutionPurge", res.Executions, int64(3))
	check(t, "executions left", remaining(t, s), []string{"child-running", "parent-of-running", "child-of-running", "parent-running"})
}

func testPurgeBatches(t *testing.T, s store.Store) {
	for i := 1; i <= 7; i++ {
		finished(t, s, fmt.Sprintf("a%d", i), "a", i)
	}
	params := store.ExecutionPurgeParams{Application: "a", CreatedBefore: at(1000), EndedBefore: at(1000), Limit: 3}
	var got []int64
	for range 5 {
		got = append(got, mustPurge(t, s, params).Executions)
	}
	check(t, "executions deleted by each call", got, []int64{3, 3, 1, 0, 0})
	// Oldest first: after one batch of 3 of 7, the newest 4 are left.
	for i := 1; i <= 7; i++ {
		finished(t, s, fmt.Sprintf("b%d", i), "b", i)
	}
	params.Application = "b"
	mustPurge(t, s, params)
	check(t, "executions left after one batch", remaining(t, s), []string{"b7", "b6", "b5", "b4"})
}

func testPurgeDeliveries(t *testing.T, s store.Store) {
	ctx := t.Context()
	finished(t, s, "old", "a", 1)
	finished(t, s, "new", "a", 2)
	for _, d := range []*store.TriggerDelivery{
		{PipelineID: "pid", Key: "hook", DeliveryID: "d-old", ExecutionID: "old"},
		{PipelineID: "pid", Key: "hook", DeliveryID: "d-new", ExecutionID: "new"},
	} {
		if err := s.TriggerDeliveryInsert(ctx, d); err != nil {
			t.Fatalf("TriggerDeliveryInsert(%s): %v", d.DeliveryID, err)
		}
	}
	res := mustPurge(t, s, store.ExecutionPurgeParams{Application: "a", Keep: 1, EndedBefore: at(1000)})
	check(t, "ExecutionPurge", res, &store.ExecutionPurgeResult{Executions: 1, Stages: 1, Events: 2, Deliveries: 1})
	// The delivery of the deleted execution may fire again; the other is
	// still a replay.
	if err := s.TriggerDeliveryInsert(ctx, &store.TriggerDelivery{PipelineID: "pid", Key: "hook", DeliveryID: "d-old", ExecutionID: "again"}); err != nil {
		t.Errorf("delivery of a deleted execution: %v, want it recorded", err)
	}
	err := s.TriggerDeliveryInsert(ctx, &store.TriggerDelivery{PipelineID: "pid", Key: "hook", DeliveryID: "d-new", ExecutionID: "again"})
	checkErr(t, "delivery of a kept execution", err, store.ErrConflict)
}

func testExecutionApplications(t *testing.T, s store.Store) {
	p := purger(t, s)
	apps, err := p.ExecutionApplications(t.Context())
	if err != nil {
		t.Fatalf("ExecutionApplications: %v", err)
	}
	check(t, "ExecutionApplications of an empty store", apps, []string{})
	for i, app := range []string{"zeta", "alpha", "mid", "alpha", "Zed"} {
		mustInsert(t, s, newExecution(fmt.Sprintf("e%d", i), app, "p", status.Succeeded, at(i), 0))
	}
	apps, err = p.ExecutionApplications(t.Context())
	if err != nil {
		t.Fatalf("ExecutionApplications: %v", err)
	}
	want := []string{"Zed", "alpha", "mid", "zeta"}
	if !slices.Equal(apps, want) {
		t.Errorf("ExecutionApplications = %q, want %q (byte order)", apps, want)
	}
}
