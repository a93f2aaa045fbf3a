package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/store"
)

// SubscribersResult is what Subscribers measured.
type SubscribersResult struct {
	// Elapsed is the time from the first trigger until every execution
	// succeeded.
	Elapsed time.Duration
	// Events is how many events the executions wrote; MinDelivered and
	// MaxDelivered are the fewest and most of them any one subscriber
	// received by the time the executions finished and the stream caught
	// up.
	Events, MinDelivered, MaxDelivered int
	// Dropped is how many subscribers the engine dropped for falling
	// behind (engine.ErrSubscriberTooSlow).
	Dropped int
}

// Subscribers opens `subscribers` subscriptions to the events of every
// execution, each read by a goroutine as fast as it can, then triggers
// `executions` executions of a linear pipeline of `stages` wait-0 stages
// at once and measures the time until all succeeded: the cost of many
// event-stream readers (a console open in many browsers, `sluice run
// --follow` in many terminals) to the engine itself.
func Subscribers(ctx context.Context, st store.Store, subscribers, executions, stages int) (*SubscribersResult, error) {
	r, err := start(ctx, st)
	if err != nil {
		return nil, err
	}
	defer r.stop()
	p, err := r.save(ctx, linear("subscribers", "wait", stages))
	if err != nil {
		return nil, err
	}
	after := lastEventID(ctx, st)
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu        sync.Mutex
		delivered = make([]int, subscribers)
		dropped   = make([]bool, subscribers)
		lastSeen  = make([]int64, subscribers)
		done      sync.WaitGroup
	)
	for i := range subscribers {
		sub := r.engine.Subscribe(subCtx, "", after)
		done.Go(func() {
			for ev := range sub.C {
				mu.Lock()
				delivered[i]++
				lastSeen[i] = max(lastSeen[i], ev.ID)
				mu.Unlock()
			}
			if errors.Is(sub.Err(), engine.ErrSubscriberTooSlow) {
				mu.Lock()
				dropped[i] = true
				mu.Unlock()
			}
		})
	}
	begin := time.Now()
	if _, err := r.run(ctx, p, executions); err != nil {
		return nil, err
	}
	res := &SubscribersResult{Elapsed: time.Since(begin)}
	last := lastEventID(ctx, st)
	written, err := countEvents(ctx, st, after)
	if err != nil {
		return nil, err
	}
	res.Events = written
	// Let every subscriber catch up with the last event before counting.
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		behind := 0
		for i := range subscribers {
			if !dropped[i] && lastSeen[i] < last {
				behind++
			}
		}
		mu.Unlock()
		if behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d subscribers did not get the last event (%d) within a minute", behind, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	done.Wait()
	res.MinDelivered = written
	for i := range subscribers {
		if dropped[i] {
			res.Dropped++
			continue
		}
		res.MinDelivered = min(res.MinDelivered, delivered[i])
		res.MaxDelivered = max(res.MaxDelivered, delivered[i])
	}
	return res, nil
}

// countEvents counts the events with IDs above after.
func countEvents(ctx context.Context, st store.Store, after int64) (int, error) {
	n := 0
	for {
		evs, err := st.EventList(ctx, &store.EventListParams{AfterID: after, Limit: 1000})
		if err != nil {
			return 0, err
		}
		if len(evs) == 0 {
			return n, nil
		}
		n += len(evs)
		after = evs[len(evs)-1].ID
	}
}
