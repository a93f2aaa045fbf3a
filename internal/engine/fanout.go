package engine

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sluice-cd/sluice/internal/store"
)

// DefaultSubscriberBuffer is Config.SubscriberBuffer's default: how many
// events may wait for one subscriber before it is dropped.
const DefaultSubscriberBuffer = 1024

// startBack is how far below the newest event ID the reader starts, so
// that events still committing when it starts (their IDs were drawn
// before) are found like any other skipped batch: 256 batches, one per
// transaction that may have been writing.
const startBack = 256 * store.EventBatchSpan

// fanout feeds every subscriber of the process from one reader of the
// event log, so that the store is read once per commit whatever the number
// of subscribers.
//
// # The reader
//
// The reader is a follower of all executions (see follower for how it
// finds events that commit out of ID order). It runs while there is at
// least one subscriber, woken by this process's commits and every
// Config.EventPollInterval for other processes'; it starts startBack IDs
// below the newest event. Each event it reads goes, in the order read, to
// every subscriber of all executions and of the event's execution. Handing
// an event over never blocks: a subscriber whose channel is full is
// dropped (ErrSubscriberTooSlow) and its reader resumes with a new
// subscription.
//
// # Joining
//
// A new subscriber first registers, so that from then on the reader's
// events queue up for it (in pending, bounded like its channel), and then
// catches up: it reads the store itself from its afterID up to the highest
// ID the reader has read (waiting for the reader to start if it must),
// delivering as it goes. Then it delivers what queued meanwhile, less what
// it already delivered, and joins the reader. Nothing falls between the
// two: an event above the reader's place, or one the catch-up did not
// find, is one the reader reads after the subscriber registered. Because
// the catch-up never goes past the reader, everything a subscriber
// delivers has been read by the reader first, and the reader's clock for
// the IDs it skipped (holeGrace) starts no later than the subscriber saw
// them skipped.
//
// What was already delivered is told apart by ID. One execution's events
// come in ID order from both, so a subscriber of one execution drops any
// event at or below the last it delivered. A subscriber of all executions
// remembers the ID its catch-up read to and the batches below it the
// catch-up did not find (gaps): of the reader's events at or below that ID
// it delivers only the gaps' events, each once. The reader itself finds
// each event once.
//
// # What the reader gives up on
//
// The reader forgets a skipped batch after holeGrace or beyond maxHoles,
// and knows nothing below where it started (uncovered is the highest such
// ID).
// An event there that commits late is not found: the stream of all
// executions misses it, as Subscribe documents. A stream of one execution
// must not: when the reader brings it an event while its last delivered ID
// is below uncovered, it could have missed one in between, so it reads its
// execution's events from the store again (catching up as when it joined)
// before that event goes out. An execution's late event therefore arrives
// no later than its next one.
type fanout struct {
	st       store.Querier
	log      *slog.Logger
	now      func() time.Time
	commits  *broker
	pollEach time.Duration
	buffer   int

	mu     sync.Mutex
	all    map[*subscriber]struct{}
	byExec map[string]map[*subscriber]struct{}
	count  int
	run    *readerRun // nil while there is no subscriber
}

// readerRun is one run of the reader, from its first subscriber to its
// last.
type readerRun struct {
	cancel context.CancelFunc
	ready  chan struct{} // closed once the reader knows where it starts
	// Guarded by fanout.mu: after is the highest ID the reader has read;
	// uncovered the highest it may have missed for good (below where it
	// started, or a hole it gave up on).
	after, uncovered int64
}

func newFanout(st store.Querier, log *slog.Logger, now func() time.Time, commits *broker, pollEach time.Duration, buffer int) *fanout {
	return &fanout{st: st, log: log, now: now, commits: commits, pollEach: pollEach, buffer: buffer,
		all: map[*subscriber]struct{}{}, byExec: map[string]map[*subscriber]struct{}{}}
}

// subscriber is one subscription. While it catches up, a goroutine of its
// own (catchUp) owns out, after and gaps; once live, the reader sends to
// out under fanout.mu.
type subscriber struct {
	f           *fanout
	executionID string
	out         chan *store.Event
	parent      context.Context // the subscriber's
	ctx         context.Context // ends with parent or when the subscription ends
	cancel      context.CancelFunc

	// Guarded by f.mu.
	live    bool
	closed  bool
	err     error
	pending []*store.Event // the reader's events while catching up
	queued  int            // how many of them are above readTo when queued
	readTo  int64          // the highest ID the catch-up has read

	// For one execution, after is the last ID delivered. For all, after is
	// the highest ID the catch-up read and gaps the batches below it that it
	// did not find (nil when none).
	after int64
	gaps  *holes
}

func (f *fanout) subscribe(ctx context.Context, executionID string, afterID int64) *Subscription {
	s := &subscriber{f: f, executionID: executionID, out: make(chan *store.Event, f.buffer), parent: ctx,
		after: afterID, readTo: afterID}
	s.ctx, s.cancel = context.WithCancel(ctx)
	f.mu.Lock()
	f.add(s)
	f.mu.Unlock()
	// Fires when ctx ends, and when the subscription ends otherwise
	// (end cancels s.ctx), then doing nothing.
	context.AfterFunc(s.ctx, func() {
		f.mu.Lock()
		f.end(s, parentErr(ctx))
		f.mu.Unlock()
	})
	go s.catchUp()
	return &Subscription{C: s.out, s: s}
}

func parentErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return context.Canceled
}

// add registers s and starts the reader if it is not running. f.mu is
// held.
func (f *fanout) add(s *subscriber) {
	if s.executionID == "" {
		f.all[s] = struct{}{}
	} else {
		m := f.byExec[s.executionID]
		if m == nil {
			m = map[*subscriber]struct{}{}
			f.byExec[s.executionID] = m
		}
		m[s] = struct{}{}
	}
	f.count++
	if f.run == nil {
		ctx, cancel := context.WithCancel(context.Background())
		f.run = &readerRun{cancel: cancel, ready: make(chan struct{})}
		go f.read(ctx, f.run)
	}
}

// end ends s's subscription with err, unless it has ended: it leaves the
// reader, and its channel is closed — here if it is live, else by its
// catch-up goroutine, which ending s.ctx stops. f.mu is held.
func (f *fanout) end(s *subscriber, err error) {
	if s.closed {
		return
	}
	s.closed, s.err, s.pending = true, err, nil
	if s.executionID == "" {
		delete(f.all, s)
	} else if m := f.byExec[s.executionID]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(f.byExec, s.executionID)
		}
	}
	f.count--
	if f.count == 0 && f.run != nil {
		f.run.cancel()
		f.run = nil
	}
	s.cancel()
	if s.live {
		close(s.out)
	}
}

// read is the reader: it follows the event log of all executions and hands
// each event to the subscribers, until ctx ends (no subscriber is left).
func (f *fanout) read(ctx context.Context, run *readerRun) {
	ticker := time.NewTicker(f.pollEach)
	defer ticker.Stop()
	var fl *follower
	for {
		woken := f.commits.wait()
		more := false
		if fl == nil {
			fl = f.start(ctx, run)
		}
		if fl != nil {
			events, m, err := fl.next(ctx)
			if err != nil && ctx.Err() == nil {
				f.log.WarnContext(ctx, "read the event log", "error", err)
			}
			f.dispatch(run, events, fl.after, fl.holes.forgotten)
			more = m
		}
		if more && ctx.Err() == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-woken:
		case <-ticker.C:
		}
	}
}

// start places a new reader startBack IDs below the newest event; nil when
// the store cannot say where that is (the next wake-up tries again).
func (f *fanout) start(ctx context.Context, run *readerRun) *follower {
	last, err := f.st.EventLastID(ctx)
	if err != nil {
		if ctx.Err() == nil {
			f.log.WarnContext(ctx, "start reading the event log", "error", err)
		}
		return nil
	}
	fl := &follower{st: f.st, after: max(last-startBack, 0), holes: &holes{now: f.now, grace: holeGrace, max: maxHoles}}
	f.mu.Lock()
	run.after, run.uncovered = fl.after, fl.after
	f.mu.Unlock()
	close(run.ready)
	return fl
}

// position returns the highest ID the reader has read, once it has
// started; false if ctx ends first. A subscriber catching up reads the
// store up to there and no further: the reader brings everything above.
func (f *fanout) position(ctx context.Context) (int64, bool) {
	f.mu.Lock()
	run := f.run
	f.mu.Unlock()
	if run == nil {
		return 0, false // the subscription has ended
	}
	select {
	case <-run.ready:
	case <-ctx.Done():
		return 0, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return run.after, true
}

// dispatch hands events, in order, to every subscriber they concern,
// unless run has ended; after is where the reader has read to.
func (f *fanout) dispatch(run *readerRun, events []*store.Event, after, forgotten int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.run != run {
		return
	}
	run.after = after
	run.uncovered = max(run.uncovered, forgotten)
	for _, ev := range events {
		for s := range f.all {
			s.offer(ev, run.uncovered)
		}
		for s := range f.byExec[ev.ExecutionID] {
			s.offer(ev, run.uncovered)
		}
	}
}

// offer gives s an event from the reader, without waiting: s is dropped if
// it cannot take it. f.mu is held.
func (s *subscriber) offer(ev *store.Event, uncovered int64) {
	if !s.live {
		// Bounded like out. Events the catch-up has read past are not
		// counted: for one execution they are delivered already; for all
		// they are few (the reader's first read, late commits), and all but
		// those late commits will be dropped as duplicates.
		if ev.ID <= s.readTo {
			if s.executionID != "" {
				return
			}
		} else if s.queued++; s.queued > cap(s.out) {
			s.f.end(s, ErrSubscriberTooSlow)
			return
		}
		if len(s.pending) >= cap(s.out)+startBack+maxHoles*store.EventBatchSpan {
			s.f.end(s, ErrSubscriberTooSlow)
			return
		}
		s.pending = append(s.pending, ev)
		return
	}
	if !s.wants(ev) {
		return
	}
	if s.executionID != "" {
		if s.after < uncovered {
			// The reader may have missed an event of this execution
			// between s.after and ev: read them from the store first.
			s.live, s.readTo, s.queued = false, s.after, 1
			s.pending = append(s.pending, ev)
			go s.catchUp()
			return
		}
		s.after = ev.ID
	}
	select {
	case s.out <- ev:
	default:
		s.f.end(s, ErrSubscriberTooSlow)
	}
}

// wants reports whether ev has not been delivered to s yet.
func (s *subscriber) wants(ev *store.Event) bool {
	if ev.ID > s.after {
		return true
	}
	if s.executionID != "" || s.gaps == nil {
		return false
	}
	return s.gaps.take(ev.ID)
}

// catchUp reads s's events from the store from s.after on, delivering
// them, then delivers what the reader queued meanwhile and makes s live;
// or closes s.out if the subscription ends first.
func (s *subscriber) catchUp() {
	f := s.f
	fl := &follower{st: f.st, executionID: s.executionID, after: s.after}
	if s.executionID == "" {
		fl.holes = &holes{now: f.now, grace: holeGrace, max: maxHoles}
	}
	var reread int64 // the event that last sent us back to the store
	for {
		if !s.readStore(fl) {
			s.stop()
			return
		}
	drain:
		for {
			f.mu.Lock()
			if s.closed {
				f.mu.Unlock()
				close(s.out)
				return
			}
			if len(s.pending) == 0 {
				s.live, s.after, s.gaps = true, fl.after, nil
				if fl.holes != nil && len(fl.holes.ids) > 0 {
					s.gaps = fl.holes
				}
				f.mu.Unlock()
				return
			}
			pending := s.pending
			s.pending, s.queued = nil, 0
			uncovered := int64(0)
			if f.run != nil {
				uncovered = f.run.uncovered
			}
			f.mu.Unlock()

			for i, ev := range pending {
				if s.executionID != "" {
					if ev.ID <= fl.after {
						continue
					}
					if fl.after < uncovered && ev.ID != reread {
						// As in offer; once per event, so that an event
						// the store no longer has cannot loop.
						reread = ev.ID
						f.mu.Lock()
						s.pending = append(pending[i:], s.pending...)
						f.mu.Unlock()
						break drain
					}
					fl.after = ev.ID
				} else if ev.ID <= fl.after && (fl.holes == nil || !fl.holes.take(ev.ID)) {
					continue
				}
				if !s.send(ev) {
					s.stop()
					return
				}
			}
		}
	}
}

// readStore delivers fl's events until it has read all that are committed
// up to where the reader has read. It reports false if the subscription
// ended first.
func (s *subscriber) readStore(fl *follower) bool {
	for {
		upTo, ok := s.f.position(s.ctx)
		if !ok {
			return false
		}
		fl.until, fl.bounded = upTo, true
		events, more, err := fl.next(s.ctx)
		if err != nil {
			if s.ctx.Err() != nil {
				return false
			}
			s.f.log.WarnContext(s.ctx, "read events to catch up", "execution_id", s.executionID, "error", err)
			t := time.NewTimer(s.f.pollEach)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return false
			case <-t.C:
			}
			continue
		}
		for _, ev := range events {
			if !s.send(ev) {
				return false
			}
		}
		s.f.mu.Lock()
		s.readTo = fl.after
		s.f.mu.Unlock()
		if !more {
			return true
		}
	}
}

// send delivers ev while catching up; it reports false if the
// subscription ended first.
func (s *subscriber) send(ev *store.Event) bool {
	select {
	case s.out <- ev:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// stop ends the subscription from its catch-up goroutine, whose context
// ended, and closes its channel.
func (s *subscriber) stop() {
	s.f.mu.Lock()
	s.f.end(s, parentErr(s.parent))
	s.f.mu.Unlock()
	close(s.out)
}
