package sqlstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

const executionColumns = `id, application, pipeline_name, pipeline_config_id, pipeline_revision, status,
pipeline, trigger_json, state, user_name, canceled, created_at, start_time, end_time, updated_at`

func scanExecution(row Row) (*store.Execution, error) {
	var e store.Execution
	err := row.Scan(&e.ID, &e.Application, &e.PipelineName, &e.PipelineConfigID, &e.PipelineRevision, &e.Status,
		scanJSON(&e.Pipeline), scanJSON(&e.Trigger), scanJSON(&e.State), &e.User, &e.Canceled,
		scanTime(&e.CreatedAt), scanNullTime(&e.StartTime), scanNullTime(&e.EndTime), scanTime(&e.UpdatedAt))
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// executionArgs normalises the times of e, filling zero CreatedAt and
// UpdatedAt from the clock, validates its JSON and returns its columns in
// executionColumns order.
func (q *querier) executionArgs(e *store.Execution) ([]any, error) {
	for _, c := range []struct {
		name string
		raw  json.RawMessage
	}{{"pipeline", e.Pipeline}, {"trigger", e.Trigger}, {"state", e.State}} {
		if err := checkJSON(c.name, c.raw); err != nil {
			return nil, err
		}
	}
	e.CreatedAt = q.stamp(e.CreatedAt)
	e.UpdatedAt = q.stamp(e.UpdatedAt)
	e.StartTime = normNullTime(e.StartTime)
	e.EndTime = normNullTime(e.EndTime)
	return []any{e.ID, e.Application, e.PipelineName, e.PipelineConfigID, e.PipelineRevision, string(e.Status),
		jsonArg(e.Pipeline), jsonArg(e.Trigger), jsonArg(e.State), e.User, e.Canceled,
		q.d.time(e.CreatedAt), q.d.nullTime(e.StartTime), q.d.nullTime(e.EndTime), q.d.time(e.UpdatedAt)}, nil
}

// ExecutionInsert implements store.Querier. An empty exec.ID or stage ID is
// filled with a fresh UUID, each stage's ExecutionID is set to exec.ID, and
// times are normalised in place. A taken exec.ID is ErrConflict, and inside
// a transaction leaves it usable on both dialects.
func (q *querier) ExecutionInsert(ctx context.Context, exec *store.Execution) error {
	if exec.ID == "" {
		exec.ID = newID()
	}
	args, err := q.executionArgs(exec)
	if err != nil {
		return fmt.Errorf("insert execution %s: %w", exec.ID, err)
	}
	stageArgs := make([][]any, len(exec.Stages))
	for i, s := range exec.Stages {
		s.ExecutionID = exec.ID
		if stageArgs[i], err = q.stageArgs(s); err != nil {
			return fmt.Errorf("insert execution %s: stage %s: %w", exec.ID, s.ID, err)
		}
	}
	err = q.atomic(ctx, false, func(q *querier) error {
		// DO NOTHING rather than a unique violation, which would abort a
		// Postgres transaction: a caller may treat "already inserted" as
		// success (a re-run task) and carry on in the same transaction.
		n, err := q.exec(ctx, `INSERT INTO execution (`+executionColumns+`)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING`, args...)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("ID taken: %w", store.ErrConflict)
		}
		q.created(exec.ID, exec.Stages)
		// A stage that conflicts here is a bug (the execution is new), so
		// it fails like any other statement, and the inserts can be held.
		for i, s := range exec.Stages {
			err := q.execHeld(ctx, insertStage, stageArgs[i], func(err error) error {
				return fmt.Errorf("insert stage %s: %w", s.ID, err)
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("insert execution %s: %w", exec.ID, err)
	}
	return nil
}

// ExecutionGet implements store.Querier. Outside a transaction the
// execution and its stages are read in one read-only transaction.
func (q *querier) ExecutionGet(ctx context.Context, id string) (*store.Execution, error) {
	q = q.reader()
	var e *store.Execution
	err := q.atomic(ctx, true, func(q *querier) error {
		var err error
		e, err = q.executionWithStages(ctx, id, "")
		return err
	})
	if err != nil {
		return nil, notFound(err, "get", "execution "+id)
	}
	return e, nil
}

// ExecutionLock implements store.Querier.
func (q *querier) ExecutionLock(ctx context.Context, id string) (*store.Execution, error) {
	var e *store.Execution
	err := q.atomic(ctx, false, func(q *querier) error {
		var err error
		if q.txs == nil {
			e, err = q.executionWithStages(ctx, id, q.d.forUpdate)
			return err
		}
		// The row first: its stages come from the cache only once it is
		// known to exist.
		if e, err = scanExecution(q.queryRow(ctx, executionByID+q.d.forUpdate, id)); err != nil {
			return err
		}
		e.Stages, err = q.lockedStages(ctx, id, func() ([]*store.Stage, error) { return q.stagesOf(ctx, id) })
		return err
	})
	if err != nil {
		return nil, notFound(err, "lock", "execution "+id)
	}
	return e, nil
}

// executionByID selects an execution's row; a suffix (FOR UPDATE) may follow.
const executionByID = `SELECT ` + executionColumns + ` FROM execution WHERE id = ?`

// executionWithStages reads an execution and its stages. Where the
// transaction pipelines, both statements go in one round trip.
func (q *querier) executionWithStages(ctx context.Context, id, suffix string) (*store.Execution, error) {
	var e *store.Execution
	err := q.queryRowHeld(ctx, executionByID+suffix, []any{id},
		func(r Row) error {
			var err error
			e, err = scanExecution(r)
			return err
		})
	if err != nil {
		return nil, err
	}
	stages, err := q.stagesOf(ctx, id)
	switch {
	case e == nil && err != nil:
		return nil, err // the held read of the execution failed
	case err != nil:
		return nil, fmt.Errorf("stages: %w", err)
	}
	e.Stages = stages
	return e, nil
}

// stagesOf reads the stages of execution id in order.
func (q *querier) stagesOf(ctx context.Context, id string) ([]*store.Stage, error) {
	stages := []*store.Stage{}
	err := q.query(ctx, `SELECT `+stageColumns+` FROM stage WHERE execution_id = ? ORDER BY seq`, []any{id},
		func(r Row) error {
			s, err := scanStage(r)
			if err != nil {
				return err
			}
			stages = append(stages, s)
			return nil
		})
	return stages, err
}

// ExecutionUpdate implements store.Querier. A zero UpdatedAt is set from the
// clock; times are normalised in place. Only the columns an execution's
// run changes are written (store.Querier.ExecutionUpdate): a SET that
// names an indexed column rewrites that index's entry on SQLite even when
// the value is the same, and created_at is in every list index.
func (q *querier) ExecutionUpdate(ctx context.Context, exec *store.Execution) error {
	if err := checkJSON("state", exec.State); err != nil {
		return fmt.Errorf("update execution %s: %w", exec.ID, err)
	}
	exec.UpdatedAt = q.stamp(exec.UpdatedAt)
	exec.StartTime = normNullTime(exec.StartTime)
	exec.EndTime = normNullTime(exec.EndTime)
	return q.execOne(ctx, `UPDATE execution SET status = ?, state = ?, canceled = ?, start_time = ?, end_time = ?, updated_at = ?
WHERE id = ?`, []any{string(exec.Status), jsonArg(exec.State), exec.Canceled,
		q.d.nullTime(exec.StartTime), q.d.nullTime(exec.EndTime), q.d.time(exec.UpdatedAt), exec.ID},
		func(err error) error {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("execution %s: %w", exec.ID, store.ErrNotFound)
			}
			return fmt.Errorf("update execution %s: %w", exec.ID, err)
		}, nil)
}

// ExecutionList implements store.Querier.
func (q *querier) ExecutionList(ctx context.Context, params *store.ExecutionListParams) (*store.ExecutionPage, error) {
	q = q.reader()
	if params == nil {
		params = &store.ExecutionListParams{}
	}
	query, args, limit, err := q.executionListQuery(params)
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	page := &store.ExecutionPage{}
	execs, err := q.listExecutions(ctx, query, args)
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	if len(execs) > limit {
		execs = execs[:limit]
		last := execs[limit-1]
		page.NextCursor = encodeCursor(cursor{createdAt: last.CreatedAt, id: last.ID})
	}
	page.Executions = execs
	if params.AwaitingJudgment && len(execs) > 0 {
		if err := q.waitingJudgments(ctx, execs); err != nil {
			return nil, fmt.Errorf("list executions awaiting judgment: %w", err)
		}
	}
	return page, nil
}

// executionListQuery returns ExecutionList's statement for params, its
// arguments and the page size: the statement reads one row more, to tell
// whether there is a next page.
func (q *querier) executionListQuery(params *store.ExecutionListParams) (string, []any, int, error) {
	limit := params.Limit
	if limit <= 0 {
		limit = 50
	}
	var (
		where []string
		args  []any
	)
	if params.Application != "" {
		where = append(where, "application = ?")
		args = append(args, params.Application)
	}
	if params.PipelineName != "" {
		where = append(where, "pipeline_name = ?")
		args = append(args, params.PipelineName)
	}
	if params.AwaitingJudgment {
		// A scalar subquery, not EXISTS, which Postgres would turn into a
		// join it may start from the stage side: from every judgment
		// stage in the history (the partial index stage_judgment holds
		// them all, ended or not), 242 times slower at a million
		// executions than at a thousand. A scalar subquery is probed once
		// per execution the list reads, the running ones, in order.
		// Constants, not arguments, so that Postgres can match the
		// index's predicate in any plan.
		where = append(where, "(SELECT 1 FROM stage WHERE stage.execution_id = execution.id AND stage.type = '"+judgmentType+
			"' AND stage.status = '"+string(status.Running)+"' LIMIT 1) IS NOT NULL")
	}
	for word := range strings.FieldsSeq(params.Search) {
		cond, condArgs := q.d.searchTrigger(word)
		where = append(where, cond)
		args = append(args, condArgs...)
	}
	if params.Cursor != "" {
		c, err := decodeCursor(params.Cursor)
		if err != nil {
			return "", nil, 0, err
		}
		// Keyset pagination: rows inserted after the first page was read
		// are newer, so they never shift later pages.
		where = append(where, "(created_at, id) < (?, ?)")
		args = append(args, q.d.time(c.createdAt), c.id)
	}
	// One status is a condition the status indexes serve in order. Each of
	// several is a query of its own, limited, and the union of those is
	// sorted: sorting every execution in any of the statuses would cost
	// as much as the history is long. Each LIMIT is the dialect's
	// pageLimit, which on Postgres keeps one plan for every call.
	statuses := slices.Compact(slices.Sorted(slices.Values(params.Statuses)))
	one := func(st status.Status) (string, []any) {
		w, a := where, args
		if st != "" {
			w = append(slices.Clip(w), "status = ?")
			a = append(slices.Clip(a), string(st))
		}
		query := `SELECT ` + executionColumns + ` FROM execution`
		if len(w) > 0 {
			query += ` WHERE ` + strings.Join(w, " AND ")
		}
		return query + ` ORDER BY created_at DESC, id DESC ` + q.d.pageLimit, append(a, limit+1)
	}
	switch len(statuses) {
	case 0:
		query, args := one("")
		return query, args, limit, nil
	case 1:
		query, args := one(statuses[0])
		return query, args, limit, nil
	}
	var (
		arms    []string
		allArgs []any
	)
	for i, st := range statuses {
		query, args := one(st)
		arms = append(arms, fmt.Sprintf("SELECT * FROM (%s) AS s%d", query, i))
		allArgs = append(allArgs, args...)
	}
	query := `SELECT ` + executionColumns + ` FROM (` + strings.Join(arms, " UNION ALL ") + `) AS x
ORDER BY created_at DESC, id DESC ` + q.d.pageLimit
	args = append(allArgs, limit+1)
	return query, args, limit, nil
}

// searchTrigger is the condition for one word of ExecutionListParams.Search.
func (d *dialect) searchTrigger(word string) (string, []any) {
	if key, value, ok := strings.Cut(word, "="); ok && key != "" && !strings.ContainsAny(key, `"\`) {
		return d.triggerParam, []any{d.triggerParamArg(key), value}
	}
	like := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(word))
	return "(LOWER(" + d.triggerText + `) LIKE ? ESCAPE '\' OR id LIKE ? ESCAPE '\')`, []any{"%" + like + "%", like + "%"}
}

// judgmentType is the manual judgment stage's type.
const judgmentType = "manualJudgment"

// waitingJudgments fills each execution's Stages with its running manual
// judgment stages, in one statement.
func (q *querier) waitingJudgments(ctx context.Context, execs []*store.Execution) error {
	byID := make(map[string]*store.Execution, len(execs))
	args := make([]any, 0, len(execs)+2)
	for _, e := range execs {
		byID[e.ID] = e
		e.Stages = []*store.Stage{}
		args = append(args, e.ID)
	}
	args = append(args, judgmentType, string(status.Running))
	return q.query(ctx, `SELECT `+stageColumns+` FROM stage WHERE execution_id IN (`+placeholders(len(execs))+`)
AND type = ? AND status = ? ORDER BY execution_id, seq`, args, func(r Row) error {
		s, err := scanStage(r)
		if err != nil {
			return err
		}
		if e := byID[s.ExecutionID]; e != nil {
			e.Stages = append(e.Stages, s)
		}
		return nil
	})
}

// ExecutionListByConfig implements store.Querier. No statuses means any
// status.
func (q *querier) ExecutionListByConfig(ctx context.Context, pipelineConfigID string, statuses []status.Status) ([]*store.Execution, error) {
	q = q.reader()
	query := `SELECT ` + executionColumns + ` FROM execution WHERE pipeline_config_id = ?`
	args := []any{pipelineConfigID}
	if len(statuses) > 0 {
		query += ` AND status IN (` + placeholders(len(statuses)) + `)`
		for _, s := range statuses {
			args = append(args, string(s))
		}
	}
	query += ` ORDER BY created_at, id`
	execs, err := q.listExecutions(ctx, query, args)
	if err != nil {
		return nil, fmt.Errorf("list executions of pipeline %s: %w", pipelineConfigID, err)
	}
	return execs, nil
}

func (q *querier) listExecutions(ctx context.Context, query string, args []any) ([]*store.Execution, error) {
	execs := []*store.Execution{}
	err := q.query(ctx, query, args, func(r Row) error {
		e, err := scanExecution(r)
		if err != nil {
			return err
		}
		execs = append(execs, e)
		return nil
	})
	return execs, err
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// cursor is the position after the last row of an ExecutionList page.
type cursor struct {
	createdAt time.Time
	id        string
}

// encodeCursor returns c as opaque text: base64 of "<unix µs>,<id>".
func encodeCursor(c cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.createdAt.UnixMicro(), 10) + "," + c.id))
}

var errBadCursor = errors.New("invalid cursor; pass the NextCursor of the previous page")

func decodeCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, errBadCursor
	}
	micros, id, ok := strings.Cut(string(b), ",")
	if !ok || id == "" {
		return cursor{}, errBadCursor
	}
	us, err := strconv.ParseInt(micros, 10, 64)
	if err != nil {
		return cursor{}, errBadCursor
	}
	return cursor{createdAt: time.UnixMicro(us).UTC(), id: id}, nil
}
