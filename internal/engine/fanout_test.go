package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/store"
)

// eventReads is the store the engine's event reader and catching-up
// subscribers read through (engine.WrapEventReads): it counts their reads
// and runs the hook of a subscription whose context carries one.
type eventReads struct {
	store.Querier
	reader, catchUp atomic.Int64
}

type readHookKey struct{}

// readHook runs before and after the first read of the subscription whose
// context carries it (context.WithValue(ctx, readHookKey{}, hook)).
type readHook struct {
	fired         atomic.Bool
	before, after func()
}

// catchUpKey marks the context of a subscription, so that its reads count
// as catching up.
type catchUpKey struct{}

func (r *eventReads) EventList(ctx context.Context, p *store.EventListParams) ([]*store.Event, error) {
	if ctx.Value(catchUpKey{}) != nil {
		r.catchUp.Add(1)
	} else {
		r.reader.Add(1)
	}
	h, _ := ctx.Value(readHookKey{}).(*readHook)
	if h != nil && !h.fired.CompareAndSwap(false, true) {
		h = nil
	}
	if h != nil && h.before != nil {
		h.before()
	}
	evs, err := r.Querier.EventList(ctx, p)
	if h != nil && h.after != nil {
		h.after()
	}
	return evs, err
}

func countReads(r *eventRig) *eventReads {
	reads := &eventReads{}
	engine.WrapEventReads(r.engine, func(q store.Querier) store.Querier {
		reads.Querier = q
		return reads
	})
	return reads
}

// commitAndNotify commits one event of execution and wakes the engine's
// reader, as a commit of the engine itself does.
func (r *eventRig) commitAndNotify(t *testing.T, execution string) int64 {
	t.Helper()
	id := r.commit(t, execution)
	engine.NotifyCommitted(r.engine)
	return id
}

// want is what one subscription must deliver: exactly these IDs, in order.
type want struct {
	execution string // "" for all
	after     int64
	sub       *engine.Subscription
	got       []int64
}

// expect returns the IDs above w.after of w's execution (or all) among
// events, in order.
func (w *want) expect(events []*store.Event) []int64 {
	var ids []int64
	for _, ev := range events {
		if ev.ID > w.after && (w.execution == "" || ev.ExecutionID == w.execution) {
			ids = append(ids, ev.ID)
		}
	}
	return ids
}

// receive reads from w.sub until it has delivered n events in all,
// failing the test if none comes for 10s.
func (w *want) receive(t *testing.T, n int) {
	t.Helper()
	for len(w.got) < n {
		var ev *store.Event
		ok := true
		select {
		case ev, ok = <-w.sub.C:
		case <-time.After(10 * time.Second):
			t.Fatalf("subscription (execution %q, after %d): no event in 10s after %v; want %d in all", w.execution, w.after, w.got, n)
		}
		if !ok {
			t.Fatalf("subscription (execution %q, after %d) ended after %v: %v", w.execution, w.after, w.got, w.sub.Err())
		}
		if w.execution != "" && ev.ExecutionID != w.execution {
			t.Fatalf("subscription of %s got event %d of %s", w.execution, ev.ID, ev.ExecutionID)
		}
		w.got = append(w.got, ev.ID)
	}
}

// diffIDs describes how got differs from want, around the first difference.
func diffIDs(got, want []int64) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(i-2, 0)
	return fmt.Sprintf("delivered %d events, want %d; from the %dth: got %v, want %v",
		len(got), len(want), from+1, got[from:min(len(got), i+3)], want[from:min(len(want), i+3)])
}

func allEvents(t *testing.T, st store.Querier) []*store.Event {
	t.Helper()
	var all []*store.Event
	var after int64
	for {
		evs, err := st.EventList(t.Context(), &store.EventListParams{AfterID: after})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return all
		}
		all = append(all, evs...)
		after = evs[len(evs)-1].ID
	}
}

// TestSubscribeReadsTheLogOnceForAll has 120 subscribers (of all executions
// and of each of two) follow 30 commits, each commit delivered to all of
// them before the next. Every subscriber gets every event it should, once
// and in order, and the event log is read once per commit, not once per
// subscriber: the reads are counted.
func TestSubscribeReadsTheLogOnceForAll(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		// No polling: the reader reads when told of a commit.
		r := newEventRigWith(t, st, func(c *engine.Config) { c.EventPollInterval = time.Hour }, "e-1", "e-2")
		reads := countReads(r)
		for range 5 {
			r.commit(t, "e-1")
			r.commit(t, "e-2")
		}
		const subscribers, commits = 120, 30
		ctx := context.WithValue(t.Context(), catchUpKey{}, true)
		var ws []*want
		for i := range subscribers {
			w := &want{execution: []string{"", "e-1", "e-2"}[i%3], after: int64(i % 7)}
			w.sub = r.engine.Subscribe(ctx, w.execution, w.after)
			ws = append(ws, w)
		}
		for i := range commits {
			r.commitAndNotify(t, []string{"e-1", "e-2"}[i%2])
			all := allEvents(t, st)
			for _, w := range ws {
				w.receive(t, len(w.expect(all)))
			}
		}
		all := allEvents(t, st)
		for _, w := range ws {
			if want := w.expect(all); !slices.Equal(w.got, want) {
				t.Errorf("subscription (execution %q, after %d): %s", w.execution, w.after, diffIDs(w.got, want))
			}
		}
		t.Logf("%d commits, %d subscribers: %d reads by the reader, %d to catch up", commits, subscribers, reads.reader.Load(), reads.catchUp.Load())
		// The reader reads once per commit (and once more when it starts);
		// a subscriber catches up in one read when nothing is missing.
		if n := reads.reader.Load(); n > commits+2 {
			t.Errorf("the reader read the event log %d times for %d commits", n, commits)
		}
		if n := reads.catchUp.Load(); n > subscribers {
			t.Errorf("%d subscribers read the store %d times to catch up, want at most once each", subscribers, n)
		}
	})
}

// TestSubscribeJoinWhileCommitting subscribes at random places in the log
// while events commit one after another: every subscriber gets the events
// after its place, each once, in order, across its catch-up from the store
// and its joining the reader.
func TestSubscribeJoinWhileCommitting(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		r := newEventRig(t, st, "e-1", "e-2", "e-3")
		executions := []string{"e-1", "e-2", "e-3"}
		const commits, subscribers = 150, 30
		var last atomic.Int64
		done := make(chan error, 1)
		go func() {
			for i := range commits {
				ev := &store.Event{ExecutionID: executions[i%3], Type: "tick"}
				if err := st.EventInsert(context.Background(), ev); err != nil {
					done <- err
					return
				}
				last.Store(ev.ID)
				engine.NotifyCommitted(r.engine)
			}
			done <- nil
		}()
		var ws []*want
		for i := range subscribers {
			w := &want{execution: []string{"", "e-1", "e-2", "e-3"}[i%4]}
			if n := last.Load(); n > 0 {
				w.after = rand.Int64N(n)
			}
			w.sub = r.engine.Subscribe(t.Context(), w.execution, w.after)
			ws = append(ws, w)
			time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond) // spread the joins over the commits
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		all := allEvents(t, st)
		for _, w := range ws {
			want := w.expect(all)
			w.receive(t, len(want))
			if !slices.Equal(w.got, want) {
				t.Errorf("subscription (execution %q, after %d): %s", w.execution, w.after, diffIDs(w.got, want))
			}
		}
		// Nothing more was waiting: the next event is the next committed.
		for _, x := range executions {
			id := r.commitAndNotify(t, x)
			for _, w := range ws {
				if w.execution == "" || w.execution == x {
					wantNext(t, w.sub.C, id, fmt.Sprintf("subscription (execution %q, after %d): the event after the last", w.execution, w.after))
				}
			}
		}
	})
}

// TestSubscribeCatchUpBoundary commits an event while a new subscriber
// catches up from the store, which takes it two reads (its backlog is
// longer than a page): just after its first read, and just before it once
// the reader of the event log has handed the event over, so that the
// second read finds it too and the subscriber has it twice. Either way it
// delivers the event once, in order.
func TestSubscribeCatchUpBoundary(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		r := newEventRig(t, st, "e-1", "e-2")
		countReads(r)
		// A subscriber already live shows when the reader has handed an
		// event over.
		probe := r.engine.Subscribe(t.Context(), "", 0).C
		probeUntil := func(id int64) error {
			for {
				select {
				case ev := <-probe:
					if ev.ID == id {
						return nil
					}
				case <-time.After(10 * time.Second):
					return fmt.Errorf("the reader did not hand event %d over in 10s", id)
				}
			}
		}
		for _, execution := range []string{"e-1", ""} {
			for _, before := range []bool{false, true} {
				// More than a page (500) of either stream's events.
				var backlog []*store.Event
				err := st.InTx(t.Context(), func(tx store.Tx) error {
					for i := range 520 {
						ev := &store.Event{ExecutionID: []string{"e-1", "e-1", "e-1", "e-2"}[i%4], Type: "tick"}
						if i < 510 {
							ev.ExecutionID = "e-1"
						}
						if err := tx.EventInsert(t.Context(), ev); err != nil {
							return err
						}
						backlog = append(backlog, ev)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				engine.NotifyCommitted(r.engine)
				if err := probeUntil(backlog[len(backlog)-1].ID); err != nil {
					t.Fatal(err)
				}
				after := backlog[0].ID - 1

				var boundary atomic.Int64
				committed := make(chan struct{})
				commitBoundary := func() {
					ev := &store.Event{ExecutionID: "e-1", Type: "tick"}
					if err := st.EventInsert(context.Background(), ev); err != nil {
						t.Error(err)
						return
					}
					boundary.Store(ev.ID)
					engine.NotifyCommitted(r.engine)
				}
				hook := &readHook{after: func() {
					commitBoundary()
					close(committed)
				}}
				if before {
					hook = &readHook{before: func() {
						commitBoundary()
						if err := probeUntil(boundary.Load()); err != nil {
							t.Error(err)
						}
						close(committed)
					}}
				}
				ctx := context.WithValue(t.Context(), readHookKey{}, hook)
				w := &want{execution: execution, after: after, sub: r.engine.Subscribe(ctx, execution, after)}
				select {
				case <-committed:
				case <-time.After(10 * time.Second):
					t.Fatal("the subscriber did not read the store in 10s")
				}
				final := r.commitAndNotify(t, "e-1")
				want := w.expect(allEvents(t, st))
				w.receive(t, len(want))
				if !slices.Equal(w.got, want) || !slices.Contains(w.got, boundary.Load()) || w.got[len(w.got)-1] != final {
					t.Errorf("execution %q, boundary event %d committed %s: %s (then %d)",
						execution, boundary.Load(), map[bool]string{false: "after the first read", true: "before the second read, handed over by the reader"}[before],
						diffIDs(w.got, want), final)
				}
				// Nothing is left to deliver twice: the next event is a new one.
				extra := r.commitAndNotify(t, "e-1")
				wantNext(t, w.sub.C, extra, "the event after the last")
				if err := probeUntil(extra); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// TestSubscribeDropsSlowSubscriber stops reading one subscription while
// another of the same execution keeps reading: the slow one is closed with
// ErrSubscriberTooSlow once its buffer is full, the other gets every event,
// and a new subscription after the slow one's last event resumes exactly.
// A subscriber that is still catching up is dropped the same way.
func TestSubscribeDropsSlowSubscriber(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		const buffer = 4
		r := newEventRigWith(t, st, func(c *engine.Config) { c.SubscriberBuffer = buffer }, "e-1")
		start := r.commitAndNotify(t, "e-1")
		fast := &want{execution: "e-1", after: start, sub: r.engine.Subscribe(t.Context(), "e-1", start)}
		slow := &want{execution: "e-1", after: start, sub: r.engine.Subscribe(t.Context(), "e-1", start)}
		// Both live: each has read an event that came after it joined.
		first := r.commitAndNotify(t, "e-1")
		fast.receive(t, 1)
		slow.receive(t, 1)
		// One more than the slow one's buffer holds.
		for range buffer + 1 {
			r.commitAndNotify(t, "e-1")
			fast.receive(t, len(fast.got)+1)
		}
		catching := &want{execution: "e-1", after: start, sub: r.engine.Subscribe(t.Context(), "e-1", start)}
		for range buffer + 1 {
			r.commitAndNotify(t, "e-1")
			fast.receive(t, len(fast.got)+1)
		}
		wantIDs := fast.expect(allEvents(t, st))
		if !slices.Equal(fast.got, wantIDs) {
			t.Fatalf("the subscriber that kept reading got %v, want %v", fast.got, wantIDs)
		}

		for _, w := range []*want{slow, catching} {
			for ev := range w.sub.C {
				w.got = append(w.got, ev.ID)
			}
			if err := w.sub.Err(); !errors.Is(err, engine.ErrSubscriberTooSlow) {
				t.Errorf("the subscription that stopped reading after %v ended with %v, want ErrSubscriberTooSlow", w.got, err)
			}
			if len(w.got) == len(wantIDs) {
				t.Errorf("the subscription that stopped reading got all %d events", len(wantIDs))
			}
			if !slices.Equal(w.got, wantIDs[:len(w.got)]) {
				t.Errorf("the subscription that stopped reading got %v, want a beginning of %v", w.got, wantIDs)
			}
			// The one catching up may be dropped before it sent anything.
			resumed := &want{execution: "e-1", after: w.after}
			if len(w.got) > 0 {
				resumed.after = w.got[len(w.got)-1]
			}
			resumed.sub = r.engine.Subscribe(t.Context(), "e-1", resumed.after)
			resumed.receive(t, len(wantIDs)-len(w.got))
			if !slices.Equal(resumed.got, wantIDs[len(w.got):]) {
				t.Errorf("resumed after %d: got %v, want %v", resumed.after, resumed.got, wantIDs[len(w.got):])
			}
		}
		if slow.got[0] != first {
			t.Errorf("the slow subscription began with %d, want %d", slow.got[0], first)
		}
	})
}

// TestSubscribeExecutionAfterForgottenEvent commits an execution's event
// after the reader of the event log stopped looking for it (its
// transaction stayed open past the grace period). The stream of all
// executions misses it, as documented; the execution's own stream delivers
// it, before the execution's next event. Postgres only: it needs an open
// transaction beside other commits.
func TestSubscribeExecutionAfterForgottenEvent(t *testing.T) {
	t.Parallel()
	r := newEventRig(t, postgresStore(t), "e-1", "e-2")
	all := r.engine.Subscribe(t.Context(), "", 0).C
	one := r.engine.Subscribe(t.Context(), "e-1", 0).C

	first := r.commit(t, "e-1")
	wantNext(t, all, first, "the first event")
	wantNext(t, one, first, "the first event")
	late := r.open(t, "e-1", 1)
	wantNext(t, all, r.commit(t, "e-2"), "an event above the open transaction's")
	r.clock.Advance(time.Minute) // past the grace period
	// As in TestSubscribeAllForgetsHoles: the second read after the clock
	// moved has forgotten the hole.
	wantNext(t, all, r.commit(t, "e-2"), "committed after the grace period")
	wantNext(t, all, r.commit(t, "e-2"), "committed after the grace period")
	late.commit(t)
	next := r.commit(t, "e-1")
	wantNext(t, all, next, fmt.Sprintf("the next event; %d committed after its hole was forgotten", late.id))
	wantNext(t, one, late.id, "the execution's late event, before its next")
	wantNext(t, one, next, "the execution's next event")
}
