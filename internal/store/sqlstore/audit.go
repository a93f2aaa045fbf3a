package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluice-cd/sluice/internal/store"
)

// AuditInsert implements store.Querier. A zero CreatedAt is set from the
// clock; it is normalised in place.
func (q *querier) AuditInsert(ctx context.Context, entry *store.AuditEntry) error {
	if err := checkJSON("details", entry.Details); err != nil {
		return fmt.Errorf("insert audit entry %q: %w", entry.Action, err)
	}
	entry.CreatedAt = q.stamp(entry.CreatedAt)
	return q.insertHeld(ctx, `INSERT INTO audit (user_name, source, action, application, pipeline, execution_id,
stage_id, details, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, []any{entry.User, entry.Source, entry.Action, entry.Application, entry.Pipeline, entry.ExecutionID, entry.StageID,
		jsonArg(entry.Details), q.d.time(entry.CreatedAt)}, func(id int64) { entry.ID = id },
		func(err error) error { return fmt.Errorf("insert audit entry %q: %w", entry.Action, err) })
}

// AuditList implements store.Querier.
func (q *querier) AuditList(ctx context.Context, params *store.AuditListParams) ([]*store.AuditEntry, error) {
	q = q.reader()
	if params == nil {
		params = &store.AuditListParams{}
	}
	limit := params.Limit
	if limit <= 0 {
		limit = 100
	}
	var (
		where []string
		args  []any
	)
	if params.ExecutionID != "" {
		where = append(where, "execution_id = ?")
		args = append(args, params.ExecutionID)
	}
	if params.Application != "" {
		where = append(where, "application = ?")
		args = append(args, params.Application)
	}
	if params.User != "" {
		where = append(where, "user_name = ?")
		args = append(args, params.User)
	}
	if params.Action != "" {
		where = append(where, "action = ?")
		args = append(args, params.Action)
	}
	if !params.Since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, q.d.time(normTime(params.Since)))
	}
	if params.BeforeID > 0 {
		where = append(where, "id < ?")
		args = append(args, params.BeforeID)
	}
	query := `SELECT id, user_name, source, action, application, pipeline, execution_id, stage_id, details, created_at FROM audit`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	entries := []*store.AuditEntry{}
	err := q.query(ctx, query, args, func(r Row) error {
		var a store.AuditEntry
		if err := r.Scan(&a.ID, &a.User, &a.Source, &a.Action, &a.Application, &a.Pipeline, &a.ExecutionID, &a.StageID,
			scanJSON(&a.Details), scanTime(&a.CreatedAt)); err != nil {
			return err
		}
		entries = append(entries, &a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	return entries, nil
}
