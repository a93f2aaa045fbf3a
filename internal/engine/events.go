package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sluice-cd/sluice/internal/store"
)

// broker wakes the reader of the event log (fanout) when this process
// commits events. Events committed by other processes (Postgres) are found
// by polling.
type broker struct {
	mu sync.Mutex
	ch chan struct{} // closed and replaced on every notify
}

func newBroker() *broker { return &broker{ch: make(chan struct{})} }

func (b *broker) notify() {
	b.mu.Lock()
	close(b.ch)
	b.ch = make(chan struct{})
	b.mu.Unlock()
}

func (b *broker) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

// ErrSubscriberTooSlow is why a subscription ends when its reader fell
// behind: more events were waiting for it than Config.SubscriberBuffer.
// The engine never waits for a subscriber. The reader resumes with a new
// subscription after the last event it got; see Subscribe for what that
// replays.
var ErrSubscriberTooSlow = errors.New("event subscriber fell behind")

// Subscription is a stream of events from Engine.Subscribe.
type Subscription struct {
	// C delivers the events. It is closed when the stream ends; Err says
	// why.
	C <-chan *store.Event

	s *subscriber
}

// Err says why C was closed: ErrSubscriberTooSlow, or the error of the
// context the subscription was made with. It is nil while C is open.
func (sub *Subscription) Err() error {
	sub.s.f.mu.Lock()
	defer sub.s.f.mu.Unlock()
	if !sub.s.closed {
		return nil
	}
	return sub.s.err
}

// Subscribe streams the events of one execution (or of all, when
// executionID is empty) with IDs above afterID: first those already
// stored, then new ones as they commit. C closes when ctx ends, or when
// whoever reads it falls more than Config.SubscriberBuffer events behind
// (ErrSubscriberTooSlow): the engine never waits for a subscriber.
//
// One execution's events arrive in ID order, which is their commit order
// (store.Querier.EventInsert), each once and none skipped, so a stream
// resumed after the last ID it delivered continues exactly. An event the
// engine's reader of the log gave up on (its transaction stayed open past
// holeGrace, or while more than maxHoles newer batches were drawn; the
// engine's transitions do not) arrives late: before the execution's next
// event, or, if it was the last, when the stream is resumed. The stream of
// all executions delivers each event at most once and not in ID order: an
// event whose transaction drew its ID before another's and committed
// after it arrives after higher IDs, as soon as it is found. It is found
// if it commits within holeGrace of a higher ID being read and its batch
// (store.Querier.EventInsert) is among the newest maxHoles skipped; one
// execution's events still arrive in order. See follower for how.
//
// afterID is a place in ID order, not in delivery order: resuming the
// stream of all executions from the highest ID delivered misses events
// below it that commit later, and resuming from the last delivered (which
// may be lower) delivers some events again.
//
// Every subscriber of the process is fed by one reader of the event log
// (fanout.go); a new subscriber reads what it missed from the store and
// then joins it.
func (e *Engine) Subscribe(ctx context.Context, executionID string, afterID int64) *Subscription {
	return e.fanout.subscribe(ctx, executionID, afterID)
}

const (
	// pageSize is how many new events a follower reads at a time.
	pageSize = 500
	// holeGrace is how long a follower of all executions keeps asking for
	// a batch of events it skipped. A batch ID that stays missing longer
	// belonged to a transaction that rolled back, or was never used
	// (Postgres skips sequence values on rollback and after a crash); a
	// transition that holds its events uncommitted this long is not
	// expected.
	holeGrace = 30 * time.Second
	// maxHoles bounds the skipped batches a follower remembers; beyond it
	// the oldest are forgotten.
	maxHoles = 1000
)

// follower reads the event log: for the engine's one reader, which
// follows all executions, and for a subscriber catching up from the store
// (fanout.go).
//
// Event IDs are drawn at insert and commit in any order across executions,
// so reading "IDs above the highest seen" alone would skip an event that
// commits after a higher ID was read. The stream of all executions
// therefore remembers every batch it skipped (a hole: a multiple of
// store.EventBatchSpan between two batches read) and, at each read, also
// asks for those batches again, delivering any that have appeared. A hole
// is forgotten once found or after holeGrace.
//
// One execution's events must still arrive in ID order. They commit in ID
// order (the writer holds the execution's lock from before drawing IDs to
// commit), so within one read of new IDs an execution's events have no
// holes below them. Across reads, next asks for the holes after reading new
// IDs and delivers the holes it finds first: if a new event of execution X
// was visible to the first query, every earlier event of X had committed
// before it, so the second query sees any of them still missing. It asks
// only for holes known before the first query, which are all below the new
// IDs, so what it delivers is in ID order per execution.
//
// One execution's stream needs none of this: its IDs above the last one
// read have all committed or will commit later.
type follower struct {
	st          store.Querier
	executionID string
	after       int64  // the highest ID read
	holes       *holes // nil for one execution's stream
	// until, when bounded, is the highest ID to read: a follower that has
	// read every committed event up to it is done. One of all executions
	// has then read up to until, the IDs it did not find being holes.
	until   int64
	bounded bool
}

// next returns the events to deliver now, in order, and whether more are
// waiting to be read at once. On error it returns nothing and keeps its
// place, so that a retry loses nothing and delivers nothing out of order.
func (f *follower) next(ctx context.Context) (events []*store.Event, more bool, err error) {
	var asked []int64
	if f.holes != nil {
		f.holes.expire()
		asked = f.holes.list()
	}
	page, err := f.st.EventList(ctx, &store.EventListParams{ExecutionID: f.executionID, AfterID: f.after, Limit: pageSize})
	if err != nil {
		return nil, false, err
	}
	if len(asked) > 0 {
		// Each batch asked for holds at least one event.
		found, err := f.st.EventList(ctx, &store.EventListParams{Batches: asked, Limit: len(asked) * store.EventBatchSpan})
		if err != nil {
			return nil, false, fmt.Errorf("look for %d skipped batches of events: %w", len(asked), err)
		}
		for _, ev := range found {
			f.holes.fill(store.EventBatch(ev.ID))
		}
		events = found
	}
	more = len(page) == pageSize
	for i, ev := range page {
		if f.bounded && ev.ID > f.until {
			page, more = page[:i], false
			break
		}
		if f.holes != nil {
			// The batches between the last one read and this one's.
			f.holes.add(store.EventBatch(f.after)+store.EventBatchSpan, store.EventBatch(ev.ID)-store.EventBatchSpan)
		}
		f.after = ev.ID
	}
	if !more && f.bounded && f.holes != nil && f.after < f.until {
		f.holes.add(store.EventBatch(f.after)+store.EventBatchSpan, store.EventBatch(f.until))
		f.after = f.until
	}
	return append(events, page...), more, nil
}

// holes are the batches of events a follower skipped (store.EventBatch),
// by ID, ascending, each with when it was first seen missing. Batches are
// only ever added above the last one, so the oldest holes are at the
// front.
type holes struct {
	now   func() time.Time
	grace time.Duration
	max   int
	ids   []hole
	// forgotten is the highest event ID given up on unfound: the last a
	// batch could hold that expired or was dropped beyond max. An event
	// there that commits later is not found.
	forgotten int64
	// taking is the batch take found last, and took the last of its
	// events it took.
	taking, took int64
}

type hole struct {
	id    int64
	since time.Time
}

// add records the batches from..to (inclusive, multiples of
// store.EventBatchSpan) as missing, keeping at most h.max holes: the
// oldest, lowest ones go first. It does nothing when to < from.
func (h *holes) add(from, to int64) {
	const span = store.EventBatchSpan
	if to < from {
		return
	}
	if n := (to-from)/span + 1; n > int64(h.max) {
		from = to - int64(h.max-1)*span
		h.forgotten = max(h.forgotten, from-1)
	}
	now := h.now()
	for id := from; id <= to; id += span {
		h.ids = append(h.ids, hole{id: id, since: now})
	}
	if over := len(h.ids) - h.max; over > 0 {
		h.forgotten = max(h.forgotten, h.ids[over-1].id+span-1)
		h.ids = slices.Delete(h.ids, 0, over)
	}
}

// expire forgets holes missing for h.grace or longer.
func (h *holes) expire() {
	now := h.now()
	n := 0
	for n < len(h.ids) && now.Sub(h.ids[n].since) >= h.grace {
		n++
	}
	if n > 0 {
		h.forgotten = max(h.forgotten, h.ids[n-1].id+store.EventBatchSpan-1)
	}
	h.ids = slices.Delete(h.ids, 0, n)
}

// fill forgets the hole batch, which was found, and reports whether it
// was one.
func (h *holes) fill(batch int64) bool {
	i, ok := slices.BinarySearchFunc(h.ids, batch, func(x hole, id int64) int { return cmp.Compare(x.id, id) })
	if ok {
		h.ids = slices.Delete(h.ids, i, i+1)
	}
	return ok
}

// take reports whether event id belongs to a hole, for events that come,
// as found batches do, whole, in ID order and one batch after another: the
// first event of a hole fills it, and the batch's later events are taken
// too, each once.
func (h *holes) take(id int64) bool {
	batch := store.EventBatch(id)
	if h.took > 0 && batch == h.taking && id > h.took {
		h.took = id
		return true
	}
	if !h.fill(batch) {
		return false
	}
	h.taking, h.took = batch, id
	return true
}

// list returns the missing IDs, ascending.
func (h *holes) list() []int64 {
	ids := make([]int64, len(h.ids))
	for i, x := range h.ids {
		ids[i] = x.id
	}
	return ids
}
