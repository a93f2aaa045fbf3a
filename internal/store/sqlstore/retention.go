package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// DefaultPurgeLimit is ExecutionPurgeParams.Limit when it is zero.
const DefaultPurgeLimit = 500

var _ store.Purger = (*Store)(nil)

// ExecutionApplications implements store.Purger. The recursive query is a
// loose index scan: each step asks the application index for the next
// name after the last, so it reads one entry per application rather than
// one per execution, on both dialects.
func (q *querier) ExecutionApplications(ctx context.Context) ([]string, error) {
	q = q.reader()
	apps := []string{}
	err := q.query(ctx, `WITH RECURSIVE apps (application) AS (
	SELECT min(application) FROM execution
	UNION ALL
	SELECT (SELECT min(application) FROM execution WHERE application > apps.application)
	FROM apps WHERE apps.application IS NOT NULL
)
SELECT application FROM apps WHERE application IS NOT NULL`, nil, func(r Row) error {
		var app string
		if err := r.Scan(&app); err != nil {
			return err
		}
		apps = append(apps, app)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list applications with executions: %w", err)
	}
	return apps, nil
}

// parentID is the SQL expression for the ID of the parent execution named
// in the trigger of the execution row alias: a pipeline stage's child, or
// the execution that fired a pipeline trigger. NULL when there is none.
func (d *dialect) parentID(alias string) string {
	if d.name == store.DialectSQLite {
		return "json_extract(" + alias + ".trigger_json, '$.parentExecution.id')"
	}
	return "json_extract_path_text(" + alias + ".trigger_json, 'parentExecution', 'id')"
}

// statusList returns "?, ?, …" for the statuses in all whose completeness
// is complete, and the statuses as arguments.
func statusList(complete bool) (string, []any) {
	var args []any
	for _, s := range status.All() {
		if s.Complete() == complete {
			args = append(args, string(s))
		}
	}
	return placeholders(len(args)), args
}

// ExecutionPurge implements store.Purger. The candidates are read oldest
// first through the application's index, so a call costs its Limit plus
// the executions it has to step over (those kept because they are not
// final or are referenced), never a scan of the application's history.
func (q *querier) ExecutionPurge(ctx context.Context, params *store.ExecutionPurgeParams) (*store.ExecutionPurgeResult, error) {
	res := &store.ExecutionPurgeResult{}
	if params.Keep <= 0 && params.CreatedBefore.IsZero() {
		return res, nil
	}
	limit := params.Limit
	if limit <= 0 {
		limit = DefaultPurgeLimit
	}
	err := q.atomic(ctx, false, func(q *querier) error {
		var (
			aged     []string
			agedArgs []any
		)
		if !params.CreatedBefore.IsZero() {
			aged = append(aged, "c.created_at < ?")
			agedArgs = append(agedArgs, q.d.time(normTime(params.CreatedBefore)))
		}
		if params.Keep > 0 {
			// The newest execution beyond Keep: it and everything older
			// have aged out.
			var (
				at time.Time
				id string
			)
			err := q.queryRow(ctx, `SELECT created_at, id FROM execution WHERE application = ?
ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET ?`, params.Application, params.Keep).Scan(scanTime(&at), &id)
			switch {
			case err == nil:
				aged = append(aged, "(c.created_at, c.id) <= (?, ?)")
				agedArgs = append(agedArgs, q.d.time(at), id)
			case !errors.Is(err, store.ErrNotFound):
				return fmt.Errorf("find the newest execution beyond %d: %w", params.Keep, err)
			}
		}
		if len(aged) == 0 {
			return nil
		}
		final, finalArgs := statusList(true)
		active, activeArgs := statusList(false)
		query := `SELECT c.id FROM execution c
WHERE c.application = ? AND (` + strings.Join(aged, " OR ") + `)
AND c.status IN (` + final + `) AND coalesce(c.end_time, c.updated_at) < ?
AND NOT EXISTS (SELECT 1 FROM execution p WHERE p.id = ` + q.d.parentID("c") + ` AND p.status IN (` + active + `))
AND c.id NOT IN (SELECT ` + q.d.parentID("k") + ` FROM execution k
	WHERE k.status IN (` + active + `) AND ` + q.d.parentID("k") + ` IS NOT NULL)
ORDER BY c.created_at, c.id LIMIT ?`
		if q.d.name == store.DialectPostgres {
			// An execution the engine holds is skipped, not waited for;
			// the row is read again once locked, so a restart that made
			// it run again in the meantime keeps it.
			query += ` FOR UPDATE OF c SKIP LOCKED`
		}
		args := append([]any{params.Application}, agedArgs...)
		args = append(args, finalArgs...)
		args = append(args, q.d.time(normTime(params.EndedBefore)))
		args = append(args, activeArgs...)
		args = append(args, activeArgs...)
		args = append(args, limit)
		var ids []string
		err := q.query(ctx, query, args, func(r Row) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
			return nil
		})
		if err != nil {
			return fmt.Errorf("find aged-out executions: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		q.forget(ids...)
		// Children first; the execution last, so that the foreign keys'
		// cascades find nothing left to do.
		for _, del := range []struct {
			table, col string
			n          *int64
			// each, when set, is how many of n a row holds: a row of
			// event is a batch of events.
			each string
		}{
			{"event", "execution_id", &res.Events, "n"},
			{"stage", "execution_id", &res.Stages, ""},
			{"trigger_delivery", "execution_id", &res.Deliveries, ""},
			{"execution", "id", &res.Executions, ""},
		} {
			cond, arg := q.d.inStrings(del.col, ids)
			query := `DELETE FROM ` + del.table + ` WHERE ` + cond
			var err error
			if del.each == "" {
				*del.n, err = q.exec(ctx, query, arg)
			} else {
				err = q.query(ctx, query+` RETURNING `+del.each, []any{arg}, func(r Row) error {
					var n int64
					err := r.Scan(&n)
					*del.n += n
					return err
				})
			}
			if err != nil {
				return fmt.Errorf("delete from %s: %w", del.table, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("purge executions of application %s: %w", params.Application, err)
	}
	return res, nil
}
