package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

var timeTests = []test{
	{"Precision", testTimePrecision},
	{"Order", testTimeOrder},
}

var concurrencyTests = []test{
	{"SerialisedIncrements", testConcurrentIncrements},
	{"EventsInCommitOrderPerExecution", testEventsInCommitOrderPerExecution},
}

// testTimePrecision stores times with nanoseconds in another zone: they come
// back in UTC, to the microsecond, equal to the struct the store normalised.
func testTimePrecision(t *testing.T, s store.Store) {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	orig := time.Date(2025, 6, 1, 23, 59, 59, 123456789, zone)
	e := newExecution("e-1", "app", "p", status.Running, orig, 1)
	e.StartTime = ptr(orig.Add(time.Millisecond))
	e.Stages[0].EndTime = ptr(orig.Add(2 * time.Millisecond))
	mustInsert(t, s, e)

	want := orig.UTC().Truncate(time.Microsecond)
	if !e.CreatedAt.Equal(want) || e.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt after insert = %v, want %v", e.CreatedAt, want)
	}
	got := mustGet(t, s, "e-1")
	check(t, "ExecutionGet", got, loaded(e))
	if !got.CreatedAt.Truncate(time.Millisecond).Equal(orig.Truncate(time.Millisecond)) {
		t.Errorf("CreatedAt = %v, want %v to the millisecond at least", got.CreatedAt, orig)
	}
	if d := got.Stages[0].EndTime.Sub(got.CreatedAt); d != 2*time.Millisecond {
		t.Errorf("stage EndTime - CreatedAt = %v, want 2ms", d)
	}
}

// testTimeOrder lists executions whose times differ by a microsecond, a
// year and a century: order is time order.
func testTimeOrder(t *testing.T, s store.Store) {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	times := map[string]time.Time{
		"a": base.AddDate(-100, 0, 0),
		"b": base.AddDate(-1, 0, 0),
		"c": base,
		"d": base.Add(time.Microsecond),
		"e": base.Add(time.Millisecond),
		"f": base.Add(time.Second),
	}
	// Insert in an order unrelated to time; IDs are reverse time order, so
	// ID order cannot pass for time order.
	ids := map[string]string{"a": "z6", "b": "z5", "c": "z4", "d": "z3", "e": "z2", "f": "z1"}
	for _, k := range []string{"d", "f", "a", "c", "e", "b"} {
		mustInsert(t, s, newExecution(ids[k], "app", "p", status.Running, times[k], 0))
	}
	pages := listAll(t, s, store.ExecutionListParams{Limit: 4})
	check(t, "ExecutionList", slices.Concat(pages...), []string{"z1", "z2", "z3", "z4", "z5", "z6"})
	got, err := s.ExecutionListByConfig(t.Context(), "cfg-app-p", nil)
	if err != nil {
		t.Fatalf("ExecutionListByConfig: %v", err)
	}
	check(t, "ExecutionListByConfig", executionIDs(got), []string{"z6", "z5", "z4", "z3", "z2", "z1"})
}

// testConcurrentIncrements has goroutines read-modify-write one stage field
// under ExecutionLock: the lock serialises them, so no increment is lost.
func testConcurrentIncrements(t *testing.T, s store.Store) {
	const workers, increments = 8, 50
	e := newExecution("e-1", "app", "p", status.Running, at(0), 2)
	e.Stages[1].Context = json.RawMessage(`{"n":0}`)
	mustInsert(t, s, e)

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range increments {
				err := s.InTx(t.Context(), func(tx store.Tx) error {
					e, err := tx.ExecutionLock(t.Context(), "e-1")
					if err != nil {
						return err
					}
					st := e.Stages[1]
					var c struct{ N int }
					if err := json.Unmarshal(st.Context, &c); err != nil {
						return err
					}
					st.Context = json.RawMessage(fmt.Sprintf(`{"n":%d}`, c.N+1))
					st.UpdatedAt = time.Time{}
					return tx.StageUpdate(t.Context(), st)
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("increment: %v", err)
	}
	got := mustGet(t, s, "e-1").Stages[1].Context
	if want := fmt.Sprintf(`{"n":%d}`, workers*increments); string(got) != want {
		t.Errorf("after %d×%d increments: context %s, want %s", workers, increments, got, want)
	}
}

// testEventsInCommitOrderPerExecution has writers that share executions
// insert events, each transaction holding its execution's lock (as the
// engine does) and doing more work between the insert and the commit, while
// one follower per execution pages with AfterID the way a subscriber to one
// execution does. The lock orders the writers of one execution, so IDs must
// grow in the order the writers took it, and each follower must see every
// event of its execution, in ID order. Across executions nothing is
// promised, so nothing is checked.
func testEventsInCommitOrderPerExecution(t *testing.T, s store.Store) {
	const executions, writersEach, txs = 4, 2, 20
	ids := make([]string, executions)
	for i := range ids {
		ids[i] = fmt.Sprintf("e-%d", i)
		mustInsert(t, s, newExecution(ids[i], "app", "p", status.Running, at(i), 1))
	}

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		inLockOf = map[string][]*store.Event{} // events in the order their writers took the lock
	)
	errs := make(chan error, executions*writersEach+executions)
	for _, id := range ids {
		for range writersEach {
			wg.Go(func() {
				for i := range txs {
					err := s.InTx(t.Context(), func(tx store.Tx) error {
						e, err := tx.ExecutionLock(t.Context(), id)
						if err != nil {
							return err
						}
						ev := &store.Event{ExecutionID: id, Type: "tick", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
						if err := tx.EventInsert(t.Context(), ev); err != nil {
							return err
						}
						// Appended under the execution's lock: in lock order.
						// (The ID may only be set when the transaction
						// commits; see store.Tx.)
						mu.Lock()
						inLockOf[id] = append(inLockOf[id], ev)
						mu.Unlock()
						// More work between drawing the ID and committing.
						e.UpdatedAt = time.Time{}
						return tx.ExecutionUpdate(t.Context(), e)
					})
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}

	var done atomic.Bool
	seen := make([][]int64, executions)
	follow := func(i int) (int, error) {
		var after int64
		if n := len(seen[i]); n > 0 {
			after = seen[i][n-1]
		}
		evs, err := s.EventList(t.Context(), &store.EventListParams{ExecutionID: ids[i], AfterID: after, Limit: 3})
		if err != nil {
			return 0, err
		}
		seen[i] = append(seen[i], eventIDs(evs)...)
		return len(evs), nil
	}
	var followers sync.WaitGroup
	for i := range ids {
		followers.Go(func() {
			for !done.Load() {
				if _, err := follow(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	done.Store(true)
	followers.Wait()
	// Read what committed after each follower's last look.
	for i := range ids {
		for {
			n, err := follow(i)
			if err != nil {
				t.Fatalf("EventList: %v", err)
			}
			if n == 0 {
				break
			}
		}
	}
	close(errs)
	for err := range errs {
		t.Errorf("concurrent events: %v", err)
	}
	for i, id := range ids {
		got := eventIDs(inLockOf[id])
		if len(got) != writersEach*txs {
			t.Errorf("execution %s: %d events written, want %d", id, len(got), writersEach*txs)
		}
		if !slices.IsSorted(got) {
			t.Errorf("execution %s: event IDs in the order the writers took its lock = %v; want them growing", id, got)
		}
		if !slices.Equal(seen[i], got) {
			missed := []int64{}
			for _, ev := range got {
				if !slices.Contains(seen[i], ev) {
					missed = append(missed, ev)
				}
			}
			t.Errorf("follower of %s saw %v; want %v (missed %v)", id, seen[i], got, missed)
		}
	}
}
