package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-cd/sluice/internal/store"
)

// EventInsert implements store.Querier. A zero CreatedAt is set from the
// clock; it is normalised in place. ErrNotFound when the execution does not
// exist.
//
// The ID is drawn at the insert (an identity or AUTOINCREMENT value), so
// it is only in commit order among transactions that hold the execution's
// lock (the store contract). Nothing serialises event writers beyond that:
// on Postgres transactions writing events of different executions run side
// by side and may commit out of ID order; on SQLite writers are serialised
// anyway.
func (q *querier) EventInsert(ctx context.Context, ev *store.Event) error {
	if err := checkJSON("data", ev.Data); err != nil {
		return fmt.Errorf("insert event of execution %s: %w", ev.ExecutionID, err)
	}
	ev.CreatedAt = q.stamp(ev.CreatedAt)
	const insert = `INSERT INTO event (execution_id, stage_id, type, data, created_at)
VALUES (?, ?, ?, ?, ?)`
	args := []any{ev.ExecutionID, ev.StageID, ev.Type, jsonArg(ev.Data), q.d.time(ev.CreatedAt)}
	return q.insertHeld(ctx, insert, args, &ev.ID, func(err error) error {
		if errors.Is(err, ErrForeignKey) {
			return fmt.Errorf("insert event: execution %s: %w", ev.ExecutionID, store.ErrNotFound)
		}
		return fmt.Errorf("insert event of execution %s: %w", ev.ExecutionID, err)
	})
}

// EventList implements store.Querier.
func (q *querier) EventList(ctx context.Context, params *store.EventListParams) ([]*store.Event, error) {
	q = q.reader()
	if params == nil {
		params = &store.EventListParams{}
	}
	limit := params.Limit
	if limit <= 0 {
		limit = 1000
	}
	query := `SELECT id, execution_id, stage_id, type, data, created_at FROM event WHERE id > ?`
	args := []any{params.AfterID}
	if params.ExecutionID != "" {
		query += ` AND execution_id = ?`
		args = append(args, params.ExecutionID)
	}
	if len(params.IDs) > 0 {
		cond, arg := q.d.inInts("id", params.IDs)
		query += ` AND ` + cond
		args = append(args, arg)
	}
	query += ` ORDER BY id LIMIT ?`
	args = append(args, limit)
	evs := []*store.Event{}
	err := q.query(ctx, query, args, func(r Row) error {
		var ev store.Event
		if err := r.Scan(&ev.ID, &ev.ExecutionID, &ev.StageID, &ev.Type, scanJSON(&ev.Data),
			scanTime(&ev.CreatedAt)); err != nil {
			return err
		}
		evs = append(evs, &ev)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return evs, nil
}

// EventLastID implements store.Querier. Both dialects answer max(id) from
// the primary key's index.
func (q *querier) EventLastID(ctx context.Context) (int64, error) {
	q = q.reader()
	var id int64
	if err := q.queryRow(ctx, `SELECT coalesce(max(id), 0) FROM event`).Scan(&id); err != nil {
		return 0, fmt.Errorf("last event id: %w", err)
	}
	return id, nil
}
