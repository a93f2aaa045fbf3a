package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

var eventTests = []test{
	{"OrderAndPaging", testEventOrderAndPaging},
	{"ByBatches", testEventByBatches},
	{"Batch", testEventBatch},
	{"BatchOfOneExecution", testEventBatchOfOneExecution},
	{"DefaultLimit", testEventDefaultLimit},
	{"RoundTrip", testEventRoundTrip},
	{"MissingExecution", testEventMissingExecution},
	{"LastID", testEventLastID},
}

var auditTests = []test{
	{"InsertAndList", testAuditInsertAndList},
	{"DefaultLimit", testAuditDefaultLimit},
}

func eventIDs(evs []*store.Event) []int64 {
	ids := []int64{}
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	return ids
}

func mustEvents(t *testing.T, s store.Querier, params store.EventListParams) []*store.Event {
	t.Helper()
	evs, err := s.EventList(t.Context(), &params)
	if err != nil {
		t.Fatalf("EventList(%+v): %v", params, err)
	}
	return evs
}

func testEventOrderAndPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustInsert(t, s,
		newExecution("e-1", "app", "p", status.Running, at(0), 1),
		newExecution("e-2", "app", "p", status.Running, at(0), 1))

	// Ten events, alternating between the executions.
	var all, of1, of2 []int64
	for i := range 10 {
		ev := &store.Event{ExecutionID: []string{"e-1", "e-2"}[i%2], Type: "stage.status",
			Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), CreatedAt: at(i)}
		if err := s.EventInsert(ctx, ev); err != nil {
			t.Fatalf("EventInsert: %v", err)
		}
		if len(all) > 0 && ev.ID <= all[len(all)-1] {
			t.Errorf("event %d got ID %d after ID %d; want IDs that grow", i, ev.ID, all[len(all)-1])
		}
		all = append(all, ev.ID)
		if i%2 == 0 {
			of1 = append(of1, ev.ID)
		} else {
			of2 = append(of2, ev.ID)
		}
	}

	check(t, "EventList(all)", eventIDs(mustEvents(t, s, store.EventListParams{})), all)
	check(t, "EventList(e-1)", eventIDs(mustEvents(t, s, store.EventListParams{ExecutionID: "e-1"})), of1)
	check(t, "EventList(e-2)", eventIDs(mustEvents(t, s, store.EventListParams{ExecutionID: "e-2"})), of2)
	check(t, "EventList(e-2, after its second)", eventIDs(mustEvents(t, s, store.EventListParams{ExecutionID: "e-2", AfterID: of2[1]})), of2[2:])
	check(t, "EventList(unknown execution)", eventIDs(mustEvents(t, s, store.EventListParams{ExecutionID: "nope"})), []int64{})

	// Page through everything three at a time, as a follower does.
	var paged []int64
	var after int64
	for {
		evs := mustEvents(t, s, store.EventListParams{AfterID: after, Limit: 3})
		if len(evs) > 3 {
			t.Fatalf("EventList(Limit 3) returned %d events", len(evs))
		}
		if len(evs) == 0 {
			break
		}
		paged = append(paged, eventIDs(evs)...)
		after = evs[len(evs)-1].ID
	}
	check(t, "EventList paged by AfterID", paged, all)

	var pagedOf1 []int64
	after = 0
	for {
		evs := mustEvents(t, s, store.EventListParams{ExecutionID: "e-1", AfterID: after, Limit: 2})
		if len(evs) == 0 {
			break
		}
		pagedOf1 = append(pagedOf1, eventIDs(evs)...)
		after = evs[len(evs)-1].ID
	}
	check(t, "EventList(e-1) paged by AfterID", pagedOf1, of1)
}

// testEventByBatches asks for batches of one event by ID, as a follower of
// all executions does for the batches it skipped: only those that exist
// come back, in ID order, combined with the other filters.
func testEventByBatches(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustInsert(t, s,
		newExecution("e-1", "app", "p", status.Running, at(0), 1),
		newExecution("e-2", "app", "p", status.Running, at(0), 1))
	var ids []int64 // ids[i] is event i, of e-1 when i is even
	for i := range 6 {
		ev := &store.Event{ExecutionID: []string{"e-1", "e-2"}[i%2], Type: "tick"}
		if err := s.EventInsert(ctx, ev); err != nil {
			t.Fatalf("EventInsert: %v", err)
		}
		ids = append(ids, ev.ID)
	}
	// IDs that never were batches, and more than SQLite's old limit of
	// 999 variables, to show the list is not bound one ID per variable.
	many := []int64{ids[4]}
	for i := range 2000 {
		many = append(many, ids[5]+store.EventBatchSpan*int64(1+i))
	}
	many = append(many, ids[1])

	for _, tc := range []struct {
		name   string
		params store.EventListParams
		want   []int64
	}{
		{"some, out of order", store.EventListParams{Batches: []int64{ids[3], ids[0], ids[5]}}, []int64{ids[0], ids[3], ids[5]}},
		{"missing ignored", store.EventListParams{Batches: []int64{ids[5] + 100*store.EventBatchSpan, ids[2], -1}}, []int64{ids[2]}},
		{"none exist", store.EventListParams{Batches: []int64{ids[5] + store.EventBatchSpan}}, []int64{}},
		{"with execution", store.EventListParams{ExecutionID: "e-2", Batches: []int64{ids[0], ids[1], ids[2], ids[3]}}, []int64{ids[1], ids[3]}},
		{"with after", store.EventListParams{AfterID: ids[2], Batches: []int64{ids[0], ids[2], ids[4]}}, []int64{ids[4]}},
		{"with limit", store.EventListParams{Batches: []int64{ids[4], ids[1], ids[2]}, Limit: 2}, []int64{ids[1], ids[2]}},
		{"duplicates", store.EventListParams{Batches: []int64{ids[1], ids[1]}}, []int64{ids[1]}},
		{"long list", store.EventListParams{Batches: many}, []int64{ids[1], ids[4]}},
		{"empty is no filter", store.EventListParams{Batches: []int64{}}, ids},
	} {
		check(t, "EventList("+tc.name+")", eventIDs(mustEvents(t, s, tc.params)), tc.want)
	}
	// Inside a transaction too, where the engine's own reads run.
	err := s.InTx(ctx, func(tx store.Tx) error {
		check(t, "EventList(Batches) in a transaction", eventIDs(mustEvents(t, tx, store.EventListParams{Batches: []int64{ids[5]}})), []int64{ids[5]})
		return nil
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

// testEventBatch writes events together: one batch, whose events have
// consecutive IDs from a multiple of store.EventBatchSpan, share a time,
// and are listed, paged and asked for as one.
func testEventBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustInsert(t, s,
		newExecution("e-1", "app", "p", status.Running, at(0), 1),
		newExecution("e-2", "app", "p", status.Running, at(0), 1))
	events := func(exec string, n int) []*store.Event {
		evs := make([]*store.Event, n)
		for i := range evs {
			evs[i] = &store.Event{ExecutionID: exec, StageID: fmt.Sprintf("s%d", i), Type: "tick",
				Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), CreatedAt: at(i)}
		}
		return evs
	}
	first, second := events("e-1", 3), events("e-2", 2)
	over := events("e-1", store.EventBatchSpan+2) // two batches
	for _, evs := range [][]*store.Event{first, second, over} {
		if err := s.EventInsert(ctx, evs...); err != nil {
			t.Fatalf("EventInsert of %d: %v", len(evs), err)
		}
	}
	all := slices.Concat(first, second, over)
	for _, batch := range [][]*store.Event{first, second, over[:store.EventBatchSpan], over[store.EventBatchSpan:]} {
		base := batch[0].ID
		if base%store.EventBatchSpan != 0 {
			t.Errorf("batch of %d starts at ID %d, not a multiple of %d", len(batch), base, store.EventBatchSpan)
		}
		for i, ev := range batch {
			if ev.ID != base+int64(i) || store.EventBatch(ev.ID) != base {
				t.Errorf("event %d of the batch at %d: ID %d, batch %d", i, base, ev.ID, store.EventBatch(ev.ID))
			}
			if !ev.CreatedAt.Equal(batch[0].CreatedAt) {
				t.Errorf("event %d of the batch at %d: CreatedAt %v, want the batch's %v", i, base, ev.CreatedAt, batch[0].CreatedAt)
			}
		}
	}
	check(t, "EventList", mustEvents(t, s, store.EventListParams{}), all)
	check(t, "EventList(e-2)", mustEvents(t, s, store.EventListParams{ExecutionID: "e-2"}), second)
	check(t, "EventList after the middle of a batch", mustEvents(t, s, store.EventListParams{AfterID: first[1].ID, Limit: 2}),
		[]*store.Event{first[2], second[0]})
	check(t, "EventList(e-1) after the middle of a batch", eventIDs(mustEvents(t, s, store.EventListParams{ExecutionID: "e-1", AfterID: first[0].ID, Limit: 3})),
		eventIDs([]*store.Event{first[1], first[2], over[0]}))
	check(t, "EventList(Batches)", mustEvents(t, s, store.EventListParams{Batches: []int64{second[0].ID, first[0].ID}}),
		slices.Concat(first, second))
	check(t, "EventList(Batches, AfterID inside one)", mustEvents(t, s, store.EventListParams{Batches: []int64{first[0].ID}, AfterID: first[0].ID}),
		first[1:])

	// Paged one event at a time, a follower loses nothing.
	var paged []int64
	var after int64
	for {
		evs := mustEvents(t, s, store.EventListParams{AfterID: after, Limit: 1})
		if len(evs) == 0 {
			break
		}
		paged = append(paged, eventIDs(evs)...)
		after = evs[len(evs)-1].ID
	}
	check(t, "EventList paged one at a time", paged, eventIDs(all))

	last, err := s.EventLastID(ctx)
	if err != nil {
		t.Fatalf("EventLastID: %v", err)
	}
	check(t, "EventLastID", last, over[len(over)-1].ID)
}

// testEventBatchOfOneExecution writes a batch that mixes executions: it
// is refused, naming both, and nothing is written.
func testEventBatchOfOneExecution(t *testing.T, s store.Store) {
	mustInsert(t, s,
		newExecution("e-1", "app", "p", status.Running, at(0), 1),
		newExecution("e-2", "app", "p", status.Running, at(0), 1))
	err := s.EventInsert(t.Context(), &store.Event{ExecutionID: "e-1", Type: "a"}, &store.Event{ExecutionID: "e-2", Type: "b"})
	if err == nil || !strings.Contains(err.Error(), "e-1") || !strings.Contains(err.Error(), "e-2") {
		t.Errorf("EventInsert of two executions' events: %v, want an error naming both", err)
	}
	check(t, "EventList", eventIDs(mustEvents(t, s, store.EventListParams{})), []int64{})
}

func testEventDefaultLimit(t *testing.T, s store.Store) {
	mustInsert(t, s, newExecution("e-1", "app", "p", status.Running, at(0), 0))
	err := s.InTx(t.Context(), func(tx store.Tx) error {
		for range 1001 {
			if err := tx.EventInsert(t.Context(), &store.Event{ExecutionID: "e-1", Type: "tick"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	evs := mustEvents(t, s, store.EventListParams{})
	if len(evs) != 1000 {
		t.Errorf("EventList with Limit 0: %d events, want 1000", len(evs))
	}
	if rest := mustEvents(t, s, store.EventListParams{AfterID: evs[len(evs)-1].ID}); len(rest) != 1 {
		t.Errorf("EventList after the first 1000: %d events, want 1", len(rest))
	}
}

func testEventRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustInsert(t, s, newExecution("e-1", "app", "p", status.Running, at(0), 1))
	withAll := &store.Event{ExecutionID: "e-1", StageID: "e-1-s0", Type: "task.status",
		Data: json.RawMessage(`{"task":"wait", "status":"RUNNING"}`), CreatedAt: at(1)}
	bare := &store.Event{ExecutionID: "e-1", Type: "execution.status"}
	before := time.Now().Truncate(time.Microsecond)
	for _, ev := range []*store.Event{withAll, bare} {
		if err := s.EventInsert(ctx, ev); err != nil {
			t.Fatalf("EventInsert: %v", err)
		}
	}
	if bare.CreatedAt.Before(before) || bare.CreatedAt.After(time.Now()) {
		t.Errorf("EventInsert with zero CreatedAt: got %v, want now", bare.CreatedAt)
	}
	check(t, "EventList", mustEvents(t, s, store.EventListParams{ExecutionID: "e-1"}), []*store.Event{withAll, bare})
}

func testEventMissingExecution(t *testing.T, s store.Store) {
	err := s.EventInsert(t.Context(), &store.Event{ExecutionID: "nope", Type: "x"})
	checkErr(t, "EventInsert for a missing execution", err, store.ErrNotFound, "execution nope")
}

func testAuditInsertAndList(t *testing.T, s store.Store) {
	ctx := t.Context()
	entries := []*store.AuditEntry{
		{User: "ann", Action: "pipeline.save", Application: "a", Pipeline: "p", CreatedAt: at(0)},
		{User: "ann", Action: "trigger", Application: "a", Pipeline: "p", ExecutionID: "e-1", Details: json.RawMessage(`{"parameters":{}}`), CreatedAt: at(1)},
		{User: "bob", Action: "judge", Application: "a", Pipeline: "p", ExecutionID: "e-1", StageID: "s-1", Details: json.RawMessage(`{"judgment":"stop"}`), CreatedAt: at(2)},
		{User: "cy", Action: "trigger", Application: "b", Pipeline: "q", ExecutionID: "e-2", CreatedAt: at(3)},
		{User: "cy", Source: "127.0.0.1 token", Action: "cancel", Application: "b", Pipeline: "q", ExecutionID: "e-2"},
	}
	for i, a := range entries {
		if err := s.AuditInsert(ctx, a); err != nil {
			t.Fatalf("AuditInsert: %v", err)
		}
		if i > 0 && a.ID <= entries[i-1].ID {
			t.Errorf("audit entry %d got ID %d after %d; want IDs that grow", i, a.ID, entries[i-1].ID)
		}
	}
	if entries[4].CreatedAt.IsZero() {
		t.Error("AuditInsert with zero CreatedAt left it zero")
	}
	e := entries
	for _, tc := range []struct {
		name   string
		params store.AuditListParams
		want   []*store.AuditEntry
	}{
		{"all", store.AuditListParams{}, []*store.AuditEntry{e[4], e[3], e[2], e[1], e[0]}},
		{"execution", store.AuditListParams{ExecutionID: "e-1"}, []*store.AuditEntry{e[2], e[1]}},
		{"application", store.AuditListParams{Application: "b"}, []*store.AuditEntry{e[4], e[3]}},
		{"both", store.AuditListParams{Application: "a", ExecutionID: "e-1"}, []*store.AuditEntry{e[2], e[1]}},
		{"none", store.AuditListParams{Application: "a", ExecutionID: "e-2"}, []*store.AuditEntry{}},
		{"limit", store.AuditListParams{Limit: 2}, []*store.AuditEntry{e[4], e[3]}},
		{"user", store.AuditListParams{User: "ann"}, []*store.AuditEntry{e[1], e[0]}},
		{"action", store.AuditListParams{Action: "trigger"}, []*store.AuditEntry{e[3], e[1]}},
		{"since", store.AuditListParams{Since: at(2)}, []*store.AuditEntry{e[4], e[3], e[2]}},
		{"before", store.AuditListParams{BeforeID: e[2].ID, Limit: 1}, []*store.AuditEntry{e[1]}},
	} {
		got, err := s.AuditList(ctx, &tc.params)
		if err != nil {
			t.Fatalf("AuditList(%s): %v", tc.name, err)
		}
		check(t, "AuditList("+tc.name+")", got, tc.want)
	}
}

func testAuditDefaultLimit(t *testing.T, s store.Store) {
	err := s.InTx(t.Context(), func(tx store.Tx) error {
		for i := range 101 {
			if err := tx.AuditInsert(t.Context(), &store.AuditEntry{User: "ann", Action: fmt.Sprint(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	got, err := s.AuditList(t.Context(), &store.AuditListParams{})
	if err != nil {
		t.Fatalf("AuditList: %v", err)
	}
	if len(got) != 100 || got[0].Action != "100" {
		t.Errorf("AuditList with Limit 0: %d entries, newest %q; want 100, newest \"100\"", len(got), got[0].Action)
	}
}

func testEventLastID(t *testing.T, s store.Store) {
	ctx := t.Context()
	last, err := s.EventLastID(ctx)
	if err != nil {
		t.Fatalf("EventLastID with no events: %v", err)
	}
	check(t, "EventLastID with no events", last, int64(0))
	mustInsert(t, s, newExecution("e-1", "app", "p", status.Running, at(0), 1))
	var want int64
	for range 3 {
		ev := &store.Event{ExecutionID: "e-1", Type: "tick"}
		if err := s.EventInsert(ctx, ev); err != nil {
			t.Fatalf("EventInsert: %v", err)
		}
		want = ev.ID
	}
	last, err = s.EventLastID(ctx)
	if err != nil {
		t.Fatalf("EventLastID: %v", err)
	}
	check(t, "EventLastID after three events", last, want)
}
