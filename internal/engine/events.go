package engine

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/sluice-cd/sluice/internal/store"
)

// broker wakes event subscribers when this process commits events. Events
// committed by other processes (Postgres) are found by polling.
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

// Subscribe streams the events of one execution (or of all, when
// executionID is empty) with IDs above afterID: first those already
// stored, then new ones as they commit. The channel closes when ctx ends.
func (e *Engine) Subscribe(ctx context.Context, executionID string, afterID int64) <-chan *store.Event {
	out := make(chan *store.Event, 64)
	go func() {
		defer close(out)
		ticker := time.NewTicker(e.pollEach)
		defer ticker.Stop()
		for {
			woken := e.events.wait()
			events, err := e.store.EventList(ctx, &store.EventListParams{ExecutionID: executionID, AfterID: afterID, Limit: 500})
			if err != nil {
				if ctx.Err() == nil {
					e.log.WarnContext(ctx, "list events", "execution_id", executionID, "error", err)
				}
			}
			for _, ev := range events {
				select {
				case out <- ev:
					afterID = ev.ID
				case <-ctx.Done():
					return
				}
			}
			if len(events) == 500 {
				continue // more are waiting
			}
			select {
			case <-ctx.Done():
				return
			case <-woken:
			case <-ticker.C:
			}
		}
	}()
	return out
}

// rescueOrphanJobs makes River jobs left "running" by a process that died
// available again. It is only correct where one process owns the database,
// which is the case for SQLite (the CLI holds the data directory's lock);
// on Postgres River's rescuer does this after Config.RescueAfter.
func rescueOrphanJobs(ctx context.Context, st store.Store) error {
	db, ok := st.DB().(*sql.DB)
	if !ok {
		return nil
	}
	_, err := db.ExecContext(ctx,
		`UPDATE river_job SET state = 'available', scheduled_at = datetime('now', 'subsec') WHERE state = 'running'`)
	if err != nil {
		return fmt.Errorf("rescue jobs of a previous process: %w", err)
	}
	return nil
}
