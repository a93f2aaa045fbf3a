package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-cd/sluice/internal/store"
)

// EventInsert implements store.Querier. A zero CreatedAt is set from the
// clock; it is normalised in place. ErrNotFound when the execution does not
// exist.
//
// The events go in one statement per eventBatch of them, their IDs drawn in
// the order given. The ID is drawn at the insert (an identity or
// AUTOINCREMENT value), so it is only in commit order among transactions
// that hold the execution's lock (the store contract). Nothing serialises
// event writers beyond that: on Postgres transactions writing events of
// different executions run side by side and may commit out of ID order; on
// SQLite writers are serialised anyway.
func (q *querier) EventInsert(ctx context.Context, evs ...*store.Event) error {
	if len(evs) <= eventBatch {
		if len(evs) == 0 {
			return nil
		}
		return q.eventInsert(ctx, evs)
	}
	return q.atomic(ctx, false, func(q *querier) error {
		for len(evs) > 0 {
			n := min(len(evs), eventBatch)
			if err := q.eventInsert(ctx, evs[:n]); err != nil {
				return err
			}
			evs = evs[n:]
		}
		return nil
	})
}

// eventBatch bounds the events one statement inserts, and so its
// parameters (five each) well below either dialect's limit.
const eventBatch = 200

func (q *querier) eventInsert(ctx context.Context, evs []*store.Event) error {
	args := make([]any, 0, 5*len(evs))
	var values strings.Builder
	for i, ev := range evs {
		if err := checkJSON("data", ev.Data); err != nil {
			return fmt.Errorf("insert event of execution %s: %w", ev.ExecutionID, err)
		}
		ev.CreatedAt = q.stamp(ev.CreatedAt)
		args = append(args, ev.ExecutionID, ev.StageID, ev.Type, jsonArg(ev.Data), q.d.time(ev.CreatedAt))
		if i > 0 {
			values.WriteString(", ")
		}
		values.WriteString("(?, ?, ?, ?, ?)")
	}
	insert := `INSERT INTO event (execution_id, stage_id, type, data, created_at) VALUES ` + values.String() + ` RETURNING id`
	// Both dialects draw the IDs row by row in the order of the VALUES
	// list, so the events, in their order, get the IDs in ascending order.
	ids := make([]int64, 0, len(evs))
	done := func(err error) error {
		switch {
		case errors.Is(err, ErrForeignKey):
			return fmt.Errorf("insert event: execution %s: %w", executionsOf(evs), store.ErrNotFound)
		case err != nil:
			return fmt.Errorf("insert event of execution %s: %w", executionsOf(evs), err)
		case len(ids) != len(evs):
			return fmt.Errorf("insert events of execution %s: %d IDs for %d events", executionsOf(evs), len(ids), len(evs))
		}
		slices.Sort(ids)
		for i, ev := range evs {
			ev.ID = ids[i]
		}
		return nil
	}
	if q.d.name == store.DialectPostgres {
		// One row, so that the statement can be held (see Pipeliner).
		return q.queryRowHeld(ctx, `WITH inserted AS (`+insert+`) SELECT array_agg(id) FROM inserted`, args,
			func(r Row) error { return done(r.Scan(&ids)) })
	}
	err := q.query(ctx, insert, args, func(r Row) error {
		var id int64
		if err := r.Scan(&id); err != nil {
			return err
		}
		ids = append(ids, id)
		return nil
	})
	return done(err)
}

// executionsOf names the executions of evs, for an error: "e1", or "e1 or
// e2" when the events are of more than one.
func executionsOf(evs []*store.Event) string {
	var ids []string
	for _, ev := range evs {
		if !slices.Contains(ids, ev.ExecutionID) {
			ids = append(ids, ev.ExecutionID)
		}
	}
	return strings.Join(ids, " or ")
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
