package invoke

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sluice-cd/sluice/internal/atomicfile"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// Event invocations. ServeInvoke writes each event to its own file under
// DataDir/async (write to a temporary file, fsync, rename) before it answers
// 202, so an accepted event survives a crash or restart; New reads
// the directory back. A dispatcher runs due events on a bounded number of
// workers. As on AWS: a function error is retried after AsyncRetryDelays
// (1 min, then 2 min: two retries), a throttle is retried without counting
// as an attempt, and an event older than MaxEventAge is dropped. The file
// is removed when the event succeeded or was given up, so delivery is at
// least once: an event running when Sluice stops runs again after restart.

type asyncEvent struct {
	ID            string          `json:"id"`
	Function      string          `json:"function"`
	Qualifier     string          `json:"qualifier,omitempty"`
	Payload       json.RawMessage `json:"payload"`
	ClientContext string          `json:"clientContext,omitempty"`
	Enqueued      time.Time       `json:"enqueued"`
	// Attempts counts the runs that ended in a function error.
	Attempts int       `json:"attempts"`
	Due      time.Time `json:"due"`
}

type asyncQueue struct {
	iv  *Invoker
	dir string

	mu      sync.Mutex
	pending eventHeap
	dirOK   bool

	wake    chan struct{} // buffered 1: the heap changed
	sem     chan struct{} // worker slots
	stop    chan struct{}
	stopped bool
	workers sync.WaitGroup
	done    chan struct{} // closed when the dispatcher has returned
}

func newAsyncQueue(iv *Invoker, dir string) *asyncQueue {
	q := &asyncQueue{
		iv:   iv,
		dir:  dir,
		wake: make(chan struct{}, 1),
		sem:  make(chan struct{}, iv.cfg.AsyncWorkers),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	q.load()
	go q.dispatch()
	return q
}

// load reads the events queued before a restart.
func (q *asyncQueue) load() {
	entries, err := os.ReadDir(q.dir)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		q.iv.log.Error("local lambda: read the event queue", "dir", q.dir, "err", err)
		return
	}
	q.dirOK = true
	for _, de := range entries {
		name := de.Name()
		if atomicfile.IsTemp(name) {
			_ = os.Remove(filepath.Join(q.dir, name))
			continue
		}
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(q.dir, name))
		var ev asyncEvent
		if err == nil {
			err = json.Unmarshal(b, &ev)
		}
		if err != nil || ev.ID+".json" != name {
			q.iv.log.Error("local lambda: skip an unreadable queued event", "file", name, "err", err)
			continue
		}
		heap.Push(&q.pending, &ev)
	}
	q.iv.metrics.asyncQueued.Set(float64(q.pending.Len()))
	if n := q.pending.Len(); n > 0 {
		q.iv.log.Info("local lambda: resumed queued events", "count", n)
	}
}

// enqueue stores ev durably and schedules it now.
func (q *asyncQueue) enqueue(ev asyncEvent) error {
	ev.Due = ev.Enqueued
	if err := q.save(&ev); err != nil {
		return err
	}
	q.mu.Lock()
	heap.Push(&q.pending, &ev)
	q.mu.Unlock()
	q.iv.metrics.asyncQueued.Inc()
	q.signal()
	return nil
}

func (q *asyncQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// save writes ev's file atomically and durably.
func (q *asyncQueue) save(ev *asyncEvent) error {
	q.mu.Lock()
	ok := q.dirOK
	q.mu.Unlock()
	if !ok {
		if err := os.MkdirAll(q.dir, 0o700); err != nil {
			return fmt.Errorf("create the event queue directory: %w", err)
		}
		q.mu.Lock()
		q.dirOK = true
		q.mu.Unlock()
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(q.dir, ev.ID+".json"), b); err != nil {
		return fmt.Errorf("write queued event %s: %w", ev.ID, err)
	}
	return nil
}

func (q *asyncQueue) remove(ev *asyncEvent) {
	if err := os.Remove(filepath.Join(q.dir, ev.ID+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		q.iv.log.Error("local lambda: remove a finished event", "id", ev.ID, "err", err)
	}
	q.iv.metrics.asyncQueued.Dec()
}

// dispatch starts due events on free workers.
func (q *asyncQueue) dispatch() {
	defer close(q.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		q.mu.Lock()
		var ev *asyncEvent
		wait := time.Duration(-1)
		if q.pending.Len() > 0 {
			if d := q.pending[0].Due.Sub(q.iv.cfg.Now()); d > 0 {
				wait = d
			} else {
				ev = heap.Pop(&q.pending).(*asyncEvent)
			}
		}
		q.mu.Unlock()

		if ev == nil {
			if wait >= 0 {
				timer.Reset(wait)
			}
			select {
			case <-q.stop:
				return
			case <-q.wake:
			case <-timer.C:
			}
			timer.Stop()
			continue
		}
		select {
		case q.sem <- struct{}{}:
		case <-q.stop:
			return
		}
		q.workers.Add(1)
		go func() {
			defer q.workers.Done()
			defer func() { <-q.sem }()
			q.run(ev)
		}()
	}
}

// run makes one attempt at ev and records what follows.
func (q *asyncQueue) run(ev *asyncEvent) {
	iv := q.iv
	name := functionNameOf(ev.Function)
	target, err := iv.cfg.Resolver.ResolveInvoke(context.Background(), ev.Function, ev.Qualifier)
	var ae *awserr.Error
	switch {
	case errors.As(err, &ae) && ae.Type == awserr.TypeResourceNotFound:
		q.give(ev, nil, nil, name, "unresolvable", ae.Message)
		return
	case err != nil:
		if q.expired(ev, nil, name) {
			return
		}
		q.later(ev, nil, false, "resolve: "+err.Error())
		return
	case target == nil || target.Primary == nil:
		q.give(ev, nil, nil, name, "unresolvable", "the function no longer exists")
		return
	}
	if q.expired(ev, target, name) {
		return
	}
	if target.State != "" && target.State != "Active" {
		q.later(ev, target, false, "the function is "+target.State)
		return
	}
	out := iv.invoke(target, invocationInput{payload: ev.Payload, clientContext: ev.ClientContext})
	defer out.free(iv)
	if q.isStopped() {
		return // Sluice is stopping; the event runs again after restart
	}
	switch {
	case out.err != nil:
		q.later(ev, target, false, out.err.Error())
	case out.functionError == "":
		iv.log.Debug("local lambda: event delivered", "function", name, "id", ev.ID, "attempt", ev.Attempts+1)
		if a := target.Async; a != nil && a.OnSuccess != "" {
			q.sendRecord(a.OnSuccess, ev, target, conditionSuccess, ev.Attempts+1, &out)
		}
		q.remove(ev)
	default:
		ev.Attempts++
		if ev.Attempts > q.retries(target) {
			q.give(ev, target, &out, name, "retries_exhausted", fmt.Sprintf("the function failed %d times; last error: %s", ev.Attempts, out.body))
			return
		}
		q.later(ev, target, true, string(out.body))
	}
}

// Conditions of an invocation record (requestContext.condition).
const (
	conditionSuccess          = "Success"
	conditionRetriesExhausted = "RetriesExhausted"
	conditionEventAgeExceeded = "EventAgeExceeded"
)

// retries is how many times a failed event is retried: the qualifier's
// MaximumRetryAttempts, else as many as Config.AsyncRetryDelays has.
func (q *asyncQueue) retries(target *Target) int {
	if target != nil && target.Async != nil && target.Async.MaximumRetryAttempts != nil {
		return *target.Async.MaximumRetryAttempts
	}
	return len(q.iv.cfg.AsyncRetryDelays)
}

// expired gives ev up when it is older than the maximum event age (the
// qualifier's MaximumEventAgeInSeconds, else Config.MaxEventAge) and
// reports whether it did.
func (q *asyncQueue) expired(ev *asyncEvent, target *Target, name string) bool {
	limit := q.iv.cfg.MaxEventAge
	if target != nil && target.Async != nil && target.Async.MaximumEventAge > 0 {
		limit = target.Async.MaximumEventAge
	}
	age := q.iv.cfg.Now().Sub(ev.Enqueued)
	if age <= limit {
		return false
	}
	q.give(ev, target, nil, name, "expired", fmt.Sprintf("the event is %s old, older than the maximum event age %s", age.Round(time.Second), limit))
	return true
}

// later reschedules ev: after the retry delay of its attempt count when it
// failed, else (a throttle, a function not yet Active) after the first delay.
func (q *asyncQueue) later(ev *asyncEvent, target *Target, counted bool, why string) {
	delays := q.iv.cfg.AsyncRetryDelays
	delay := time.Second
	switch {
	case counted && len(delays) > 0:
		delay = delays[min(ev.Attempts, len(delays))-1]
	case counted:
		delay = time.Duration(ev.Attempts) * time.Minute
	case len(delays) > 0:
		delay = delays[0]
	}
	ev.Due = q.iv.cfg.Now().Add(delay)
	if err := q.save(ev); err != nil {
		q.iv.log.Error("local lambda: reschedule an event", "id", ev.ID, "err", err)
	}
	q.iv.log.Info("local lambda: event will be retried", "function", ev.Function, "id", ev.ID, "in", delay, "reason", why)
	q.mu.Lock()
	heap.Push(&q.pending, ev)
	q.mu.Unlock()
	q.signal()
}

// give drops ev for good. An event that failed (its retries exhausted or
// its age exceeded) first goes to the OnFailure destination and to the
// executed version's dead-letter queue, both if both are set; out is its
// last run, nil if it never ran.
func (q *asyncQueue) give(ev *asyncEvent, target *Target, out *invokeOutcome, function, reason, why string) {
	q.iv.log.Warn("local lambda: event dropped", "function", function, "id", ev.ID, "reason", reason, "detail", why)
	q.iv.metrics.asyncDropped.WithLabelValues(function, reason).Inc()
	if target != nil && reason != "unresolvable" {
		condition := conditionRetriesExhausted
		if reason == "expired" {
			condition = conditionEventAgeExceeded
		}
		if a := target.Async; a != nil && a.OnFailure != "" {
			q.sendRecord(a.OnFailure, ev, target, condition, ev.Attempts, out)
		}
		spec := target.Primary
		if out != nil && target.Additional != nil && out.version == target.Additional.Version {
			spec = target.Additional
		}
		if spec.DeadLetterArn != "" {
			q.sendDeadLetter(spec.DeadLetterArn, ev, out)
		}
	}
	q.remove(ev)
}
func (q *asyncQueue) isStopped() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stopped
}

// stopDispatch stops starting events; wait waits for the running ones.
func (q *asyncQueue) stopDispatch() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
	close(q.stop)
	<-q.done
}

func (q *asyncQueue) wait() { q.workers.Wait() }

// queued reports how many events wait in the queue (for tests and status).
func (q *asyncQueue) queued() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending.Len()
}

// eventHeap orders events by due time.
type eventHeap []*asyncEvent

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].Due.Before(h[j].Due) }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(*asyncEvent)) }
func (h *eventHeap) Pop() any {
	old := *h
	ev := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return ev
}
