package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-cd/sluice/internal/store"
)

// batchEvent is one event in a row of the event table, a batch (see
// store.Querier.EventInsert): the row holds the execution, the time and
// the number of events; its events column a JSON array of these, which
// batchJSON writes.
type batchEvent struct {
	StageID string          `json:"stage_id"`
	Type    string          `json:"type"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// EventInsert implements store.Querier. A zero CreatedAt of the first event
// is set from the clock; every event gets it, normalised. ErrNotFound when
// the execution does not exist.
//
// A batch's ID is drawn at the insert (an identity or AUTOINCREMENT value),
// so it is only in commit order among transactions that hold the
// execution's lock (the store contract). Nothing serialises event writers
// beyond that: on Postgres transactions writing events of different
// executions run side by side and may commit out of ID order; on SQLite
// writers are serialised anyway.
func (q *querier) EventInsert(ctx context.Context, evs ...*store.Event) error {
	if len(evs) == 0 {
		return nil
	}
	exec := evs[0].ExecutionID
	at := q.stamp(evs[0].CreatedAt)
	for i, ev := range evs {
		if ev.ExecutionID != exec {
			return fmt.Errorf("insert events of execution %s: event %d (%s) is of execution %s; a batch holds one execution's events",
				exec, i, ev.Type, ev.ExecutionID)
		}
		if err := checkJSON("data", ev.Data); err != nil {
			return fmt.Errorf("insert event %s of execution %s: %w", ev.Type, exec, err)
		}
		ev.CreatedAt = at
	}
	for len(evs) > 0 {
		batch := evs[:min(len(evs), store.EventBatchSpan)]
		evs = evs[len(batch):]
		if err := q.insertBatch(ctx, exec, at, batch); err != nil {
			return err
		}
	}
	return nil
}

// insertBatch writes one row of at most store.EventBatchSpan events.
func (q *querier) insertBatch(ctx context.Context, exec string, at time.Time, batch []*store.Event) error {
	events := batchJSON(batch)
	cols, vals := `execution_id, n, events, created_at`, `?, ?, ?, ?`
	if q.d.eventBatchID != "" {
		cols, vals = `id, `+cols, q.d.eventBatchID+`, `+vals
	}
	insert := `INSERT INTO event (` + cols + `) VALUES (` + vals + `)`
	args := []any{exec, len(batch), string(events), q.d.time(at)}
	set := func(id int64) {
		for i, ev := range batch {
			ev.ID = id + int64(i)
		}
	}
	return q.insertHeld(ctx, insert, args, set, func(err error) error {
		if errors.Is(err, ErrForeignKey) {
			return fmt.Errorf("insert events: execution %s: %w", exec, store.ErrNotFound)
		}
		return fmt.Errorf("insert events of execution %s: %w", exec, err)
	})
}

// batchJSON is the events column of a batch. Each event's data goes in
// as given, byte for byte, as a JSON column keeps it; no data is no "data"
// member.
func batchJSON(batch []*store.Event) []byte {
	var b []byte
	b = append(b, '[')
	for i, ev := range batch {
		if i > 0 {
			b = append(b, ',')
		}
		stageID, _ := json.Marshal(ev.StageID) // a string always marshals
		typ, _ := json.Marshal(ev.Type)
		b = append(b, `{"stage_id":`...)
		b = append(b, stageID...)
		b = append(b, `,"type":`...)
		b = append(b, typ...)
		if len(ev.Data) > 0 {
			b = append(b, `,"data":`...)
			b = append(b, ev.Data...)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// EventList implements store.Querier. It reads whole batches: those that
// hold an ID above AfterID, which start at most store.EventBatchSpan - 1
// below it.
func (q *querier) EventList(ctx context.Context, params *store.EventListParams) ([]*store.Event, error) {
	q = q.reader()
	if params == nil {
		params = &store.EventListParams{}
	}
	limit := params.Limit
	if limit <= 0 {
		limit = 1000
	}
	after := params.AfterID
	query := `SELECT id, execution_id, n, events, created_at FROM event WHERE id > ? AND id + n - 1 > ?`
	args := []any{after - (store.EventBatchSpan - 1), after}
	if params.ExecutionID != "" {
		query += ` AND execution_id = ?`
		args = append(args, params.ExecutionID)
	}
	if len(params.Batches) > 0 {
		cond, arg := q.d.inInts("id", params.Batches)
		query += ` AND ` + cond
		args = append(args, arg)
	}
	// Each batch holds at least one event above after, so limit batches
	// hold enough.
	query += ` ORDER BY id LIMIT ?`
	args = append(args, limit)
	evs := []*store.Event{}
	err := q.query(ctx, query, args, func(r Row) error {
		var (
			id, n  int64
			exec   string
			events json.RawMessage
			at     time.Time
		)
		if err := r.Scan(&id, &exec, &n, scanJSON(&events), scanTime(&at)); err != nil {
			return err
		}
		var elems []batchEvent
		if err := json.Unmarshal(events, &elems); err != nil {
			return fmt.Errorf("event batch %d: %w", id, err)
		}
		if int64(len(elems)) != n {
			return fmt.Errorf("event batch %d: %d events, not the %d its row says", id, len(elems), n)
		}
		for i, e := range elems {
			ev := &store.Event{ID: id + int64(i), ExecutionID: exec, StageID: e.StageID, Type: e.Type, Data: e.Data, CreatedAt: at}
			if ev.ID <= after || len(evs) == limit {
				continue
			}
			evs = append(evs, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return evs, nil
}

// EventLastID implements store.Querier: the last ID of the newest batch,
// read from the primary key's index.
func (q *querier) EventLastID(ctx context.Context) (int64, error) {
	q = q.reader()
	var id int64
	const last = `SELECT coalesce((SELECT id + n - 1 FROM event ORDER BY id DESC LIMIT 1), 0)`
	if err := q.queryRow(ctx, last).Scan(&id); err != nil {
		return 0, fmt.Errorf("last event id: %w", err)
	}
	return id, nil
}
