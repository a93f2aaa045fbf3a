package engine_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// These tests write events straight through the store, in transactions
// they hold open, so that events of different executions commit out of ID
// order, as engine transitions on Postgres do. SQLite serialises writers,
// so it cannot hold two such transactions open at once: the tests run on
// Postgres only.

// eventRig is an engine, not started, that only serves subscriptions, over
// a store with some executions to write events for.
type eventRig struct {
	engine *engine.Engine
	store  store.Store
	clock  *sluicetest.Clock
}

func newEventRig(t *testing.T, st store.Store, executions ...string) *eventRig {
	t.Helper()
	return newEventRigWith(t, st, nil, executions...)
}

// newEventRigWith is newEventRig with the engine's configuration edited
// by edit.
func newEventRigWith(t *testing.T, st store.Store, edit func(*engine.Config), executions ...string) *eventRig {
	t.Helper()
	clock := sluicetest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg := engine.Config{Store: st, Stages: stage.NewRegistry(), Clock: clock.Now, EventPollInterval: 5 * time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	e, err := engine.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range executions {
		err := st.ExecutionInsert(t.Context(), &store.Execution{ID: id, Application: "app", PipelineName: "p",
			PipelineConfigID: "cfg", Status: status.Running, User: "tester"})
		if err != nil {
			t.Fatal(err)
		}
	}
	return &eventRig{engine: e, store: st, clock: clock}
}

// commit writes one event of execution in a transaction of its own.
func (r *eventRig) commit(t *testing.T, execution string) int64 {
	t.Helper()
	ev := &store.Event{ExecutionID: execution, Type: "tick"}
	if err := r.store.EventInsert(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	return ev.ID
}

// openTx is a transaction that has written events of its execution, under
// the execution's lock as the engine does, and waits to end.
type openTx struct {
	id    int64
	end   chan bool // true commits, false rolls back
	done  chan error
	ended bool
}

var errRollBack = errors.New("roll back")

// open starts a transaction writing batches of events of execution, of
// the sizes given, and returns once they are written; id is the first
// event's.
func (r *eventRig) open(t *testing.T, execution string, sizes ...int) *openTx {
	t.Helper()
	tx := &openTx{end: make(chan bool), done: make(chan error, 1)}
	written := make(chan int64, 1)
	go func() {
		tx.done <- r.store.InTx(context.Background(), func(stx store.Tx) error {
			if _, err := stx.ExecutionLock(context.Background(), execution); err != nil {
				return err
			}
			var evs []*store.Event
			for _, n := range sizes {
				batch := make([]*store.Event, n)
				for i := range batch {
					batch[i] = &store.Event{ExecutionID: execution, Type: "tick"}
				}
				if err := stx.EventInsert(context.Background(), batch...); err != nil {
					return err
				}
				evs = append(evs, batch...)
			}
			// A read sends the inserts the transaction holds, which draws
			// their IDs (see store.Tx).
			if _, err := stx.ExecutionGet(context.Background(), execution); err != nil {
				return err
			}
			written <- evs[0].ID
			if !<-tx.end {
				return errRollBack
			}
			return nil
		})
	}()
	select {
	case tx.id = <-written:
	case err := <-tx.done:
		t.Fatalf("open transaction on %s: %v", execution, err)
	}
	t.Cleanup(func() {
		if !tx.ended {
			tx.end <- false
			<-tx.done
		}
	})
	return tx
}

func (tx *openTx) commit(t *testing.T) {
	t.Helper()
	tx.ended = true
	tx.end <- true
	if err := <-tx.done; err != nil {
		t.Fatalf("commit transaction of event %d: %v", tx.id, err)
	}
}

func (tx *openTx) rollBack(t *testing.T) {
	t.Helper()
	tx.ended = true
	tx.end <- false
	if err := <-tx.done; !errors.Is(err, errRollBack) {
		t.Fatalf("roll back transaction of event %d: %v", tx.id, err)
	}
}

// next returns the next event of events, failing the test after a while.
func next(t *testing.T, events <-chan *store.Event, waitingFor string) *store.Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("no event in 10s; waiting for %s", waitingFor)
		return nil
	}
}

func wantNext(t *testing.T, events <-chan *store.Event, want int64, why string) {
	t.Helper()
	if got := next(t, events, fmt.Sprintf("event %d (%s)", want, why)).ID; got != want {
		t.Fatalf("next event: got %d, want %d (%s)", got, want, why)
	}
}

// TestSubscribeAllLateCommit commits an event after one with a higher ID
// has been delivered: the stream of all executions still delivers it, once.
func TestSubscribeAllLateCommit(t *testing.T) {
	t.Parallel()
	r := newEventRig(t, postgresStore(t), "e-1", "e-2")
	events := r.engine.Subscribe(t.Context(), "", 0).C

	first := r.open(t, "e-1", 1)
	second := r.commit(t, "e-2")
	if second <= first.id {
		t.Fatalf("event IDs %d then %d; want them drawn in that order", first.id, second)
	}
	wantNext(t, events, second, "committed while the lower ID is not")
	first.commit(t)
	wantNext(t, events, first.id, "committed late")
	last := r.commit(t, "e-2")
	wantNext(t, events, last, "committed after; nothing delivered twice before it")
}

// TestSubscribeAllLateBatch commits a batch of events late, as an engine
// step writes them: to a subscriber that was live, and to one that joined
// while it was missing (a gap of its catch-up), every event of the batch
// arrives, in order and once.
func TestSubscribeAllLateBatch(t *testing.T) {
	t.Parallel()
	r := newEventRig(t, postgresStore(t), "e-1", "e-2")
	early := r.engine.Subscribe(t.Context(), "", 0).C

	late := r.open(t, "e-1", 3)
	above := r.commit(t, "e-2")
	wantNext(t, early, above, "committed while the batch below is not")
	joined := r.engine.Subscribe(t.Context(), "", 0).C
	wantNext(t, joined, above, "read while catching up, past the missing batch")
	late.commit(t)
	for _, events := range []<-chan *store.Event{early, joined} {
		for i := range int64(3) {
			wantNext(t, events, late.id+i, fmt.Sprintf("event %d of the batch committed late", i))
		}
	}
	last := r.commit(t, "e-2")
	wantNext(t, early, last, "committed after; nothing delivered twice before it")
	wantNext(t, joined, last, "committed after; nothing delivered twice before it")
}

// TestSubscribeAllOutOfOrder has rounds of transactions on several
// executions commit out of ID order: the highest ID first, and once the
// subscriber has delivered it, the others in shuffled order. The stream of
// all executions delivers every event exactly once, and each execution's
// events in ID order.
func TestSubscribeAllOutOfOrder(t *testing.T) {
	t.Parallel()
	const rounds = 15
	// Three transactions at once, so that they and the subscriber fit in
	// pgxpool's smallest default pool (4 connections).
	executions := []string{"e-1", "e-2", "e-3"}
	r := newEventRig(t, postgresStore(t), executions...)
	events := r.engine.Subscribe(t.Context(), "", 0).C

	got := map[int64]int{}
	lastOf := map[string]int64{}
	receiveThrough := func(want int64) {
		t.Helper()
		for got[want] == 0 {
			ev := next(t, events, fmt.Sprintf("event %d", want))
			got[ev.ID]++
			if ev.ID < lastOf[ev.ExecutionID] {
				t.Errorf("execution %s: event %d delivered after %d", ev.ExecutionID, ev.ID, lastOf[ev.ExecutionID])
			}
			lastOf[ev.ExecutionID] = max(lastOf[ev.ExecutionID], ev.ID)
		}
	}

	var written []int64
	for range rounds {
		txs := make([]*openTx, len(executions))
		for i, x := range executions {
			txs[i] = r.open(t, x, 1)
			written = append(written, txs[i].id)
		}
		slices.SortFunc(txs, func(a, b *openTx) int { return cmp.Compare(b.id, a.id) })
		txs[0].commit(t)
		receiveThrough(txs[0].id)
		rest := txs[1:]
		rand.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		for _, tx := range rest {
			tx.commit(t)
		}
	}
	last := r.commit(t, "e-1")
	receiveThrough(last)
	delete(got, last)

	for _, id := range written {
		if got[id] != 1 {
			t.Errorf("event %d delivered %d times, want once", id, got[id])
		}
	}
	if len(got) != len(written) {
		t.Errorf("delivered %d distinct events before the last, want %d", len(got), len(written))
	}
}

// TestSubscribeAllForgetsHoles shows that IDs that never commit do not hold
// the stream up, and that the subscriber stops looking for them after a
// grace period: a rolled-back event, and one whose transaction stays open
// longer than that, which is then not delivered.
func TestSubscribeAllForgetsHoles(t *testing.T) {
	t.Parallel()
	r := newEventRig(t, postgresStore(t), "e-1", "e-2", "e-3")
	events := r.engine.Subscribe(t.Context(), "", 0).C

	rolledBack := r.open(t, "e-1", 1)
	rolledBack.rollBack(t)
	lingering := r.open(t, "e-2", 1)
	after := r.commit(t, "e-3")
	wantNext(t, events, after, "not held up by a rolled-back ID or an open transaction")

	r.clock.Advance(time.Minute) // well past the grace period
	// The read that delivers the first event committed after the clock moved
	// may have started before it moved; the one after that has forgotten the
	// holes.
	wantNext(t, events, r.commit(t, "e-3"), "committed after the grace period")
	wantNext(t, events, r.commit(t, "e-3"), "committed after the grace period")
	lingering.commit(t)
	wantNext(t, events, r.commit(t, "e-3"), fmt.Sprintf("event %d committed after its hole was forgotten", lingering.id))
}

// TestSubscribeAllBoundsHoles skips more batches than the subscriber
// keeps: the oldest are forgotten, the newest still found.
func TestSubscribeAllBoundsHoles(t *testing.T) {
	t.Parallel()
	r := newEventRig(t, postgresStore(t), "e-1", "e-2", "e-3")
	events := r.engine.Subscribe(t.Context(), "", 0).C

	oldest := r.open(t, "e-1", 1)
	wide := r.open(t, "e-2", slices.Repeat([]int{1}, 1500)...)
	newest := r.open(t, "e-3", 1)
	wide.rollBack(t)
	after := r.commit(t, "e-2")
	wantNext(t, events, after, "past 1,500 rolled-back batches")
	oldest.commit(t)
	newest.commit(t)
	wantNext(t, events, newest.id, "the newest hole, still tracked")
	wantNext(t, events, r.commit(t, "e-2"), fmt.Sprintf("event %d committed after its hole was dropped", oldest.id))
}
