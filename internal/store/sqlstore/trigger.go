package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluice-cd/sluice/internal/store"
)

const triggerColumns = `pipeline_id, trigger_key, position, type, source, enabled, application, pipeline_name,
last_fired_at, last_execution_id, last_outcome`

// TriggerSync implements store.Querier.
func (q *querier) TriggerSync(ctx context.Context, pipelineID string, triggers []*store.Trigger) error {
	err := q.atomic(ctx, false, func(q *querier) error {
		keys := make([]string, 0, len(triggers))
		for _, t := range triggers {
			keys = append(keys, t.Key)
			_, err := q.exec(ctx, `INSERT INTO pipeline_trigger (pipeline_id, trigger_key, position, type, source, enabled,
application, pipeline_name)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (pipeline_id, trigger_key) DO UPDATE SET position = excluded.position, type = excluded.type,
source = excluded.source, enabled = excluded.enabled, application = excluded.application,
pipeline_name = excluded.pipeline_name`,
				pipelineID, t.Key, t.Position, t.Type, t.Source, t.Enabled, t.Application, t.PipelineName)
			if err != nil {
				return fmt.Errorf("trigger %s: %w", t.Key, err)
			}
		}
		query := `DELETE FROM pipeline_trigger WHERE pipeline_id = ?`
		args := []any{pipelineID}
		if len(keys) > 0 {
			in, arg := q.d.inStrings("trigger_key", keys)
			query += ` AND NOT (` + in + `)`
			args = append(args, arg)
		}
		_, err := q.exec(ctx, query, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("index triggers of pipeline %s: %w", pipelineID, err)
	}
	return nil
}

// TriggerList implements store.Querier.
func (q *querier) TriggerList(ctx context.Context, params *store.TriggerListParams) ([]*store.Trigger, error) {
	q = q.reader()
	if params == nil {
		params = &store.TriggerListParams{}
	}
	var (
		where []string
		args  []any
	)
	if params.PipelineID != "" {
		where = append(where, "pipeline_id = ?")
		args = append(args, params.PipelineID)
	}
	if params.Type != "" {
		where = append(where, "type = ?")
		args = append(args, params.Type)
	}
	if params.Source != "" {
		where = append(where, "source = ?")
		args = append(args, params.Source)
	}
	if params.EnabledOnly {
		where = append(where, "enabled")
	}
	query := `SELECT ` + triggerColumns + ` FROM pipeline_trigger`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY application, pipeline_name, position`
	out := []*store.Trigger{}
	err := q.query(ctx, query, args, func(r Row) error {
		var t store.Trigger
		if err := r.Scan(&t.PipelineID, &t.Key, &t.Position, &t.Type, &t.Source, &t.Enabled, &t.Application,
			&t.PipelineName, scanNullTime(&t.LastFiredAt), &t.LastExecutionID, &t.LastOutcome); err != nil {
			return err
		}
		out = append(out, &t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list triggers: %w", err)
	}
	return out, nil
}

// TriggerFired implements store.Querier.
func (q *querier) TriggerFired(ctx context.Context, f *store.TriggerFiring) error {
	at := q.stamp(f.At)
	n, err := q.exec(ctx, `UPDATE pipeline_trigger SET last_fired_at = ?, last_execution_id = ?, last_outcome = ?
WHERE pipeline_id = ? AND trigger_key = ?`, q.d.time(at), f.ExecutionID, f.Outcome, f.PipelineID, f.Key)
	if err != nil {
		return fmt.Errorf("record firing of trigger %s of pipeline %s: %w", f.Key, f.PipelineID, err)
	}
	if n == 0 {
		return fmt.Errorf("trigger %s of pipeline %s: %w", f.Key, f.PipelineID, store.ErrNotFound)
	}
	return nil
}

// TriggerDeliveryInsert implements store.Querier. DO NOTHING rather than a
// unique violation, which would abort a Postgres transaction.
func (q *querier) TriggerDeliveryInsert(ctx context.Context, d *store.TriggerDelivery) error {
	at := q.stamp(d.CreatedAt)
	n, err := q.exec(ctx, `INSERT INTO trigger_delivery (pipeline_id, trigger_key, delivery_id, execution_id, created_at)
VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, d.PipelineID, d.Key, d.DeliveryID, d.ExecutionID, q.d.time(at))
	if err != nil {
		return fmt.Errorf("record delivery %q of trigger %s: %w", d.DeliveryID, d.Key, err)
	}
	if n == 0 {
		return fmt.Errorf("delivery %q already fired trigger %s of pipeline %s: %w", d.DeliveryID, d.Key, d.PipelineID, store.ErrConflict)
	}
	return nil
}
