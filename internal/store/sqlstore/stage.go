package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sluice-cd/sluice/internal/store"
)

const stageColumns = `id, execution_id, seq, ref_id, name, type, requisite_stage_ref_ids, status,
context, outputs, tasks, start_time, end_time, updated_at`

const insertStage = `INSERT INTO stage (` + stageColumns + `)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func scanStage(row Row) (*store.Stage, error) {
	var (
		s    store.Stage
		reqs json.RawMessage
	)
	err := row.Scan(&s.ID, &s.ExecutionID, &s.Seq, &s.RefID, &s.Name, &s.Type, scanJSON(&reqs), &s.Status,
		scanJSON(&s.Context), scanJSON(&s.Outputs), scanJSON(&s.Tasks),
		scanNullTime(&s.StartTime), scanNullTime(&s.EndTime), scanTime(&s.UpdatedAt))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(reqs, &s.RequisiteStageRefIDs); err != nil {
		return nil, fmt.Errorf("stage %s: requisite_stage_ref_ids: %w", s.ID, err)
	}
	if len(s.RequisiteStageRefIDs) == 0 {
		s.RequisiteStageRefIDs = nil
	}
	return &s, nil
}

// stageArgs fills an empty s.ID, normalises the times of s (UpdatedAt from
// the clock when zero), validates its JSON and returns its columns in
// stageColumns order. RequisiteStageRefIDs are stored as a JSON array; an
// empty list reads back as nil.
func (q *querier) stageArgs(s *store.Stage) ([]any, error) {
	if s.ID == "" {
		s.ID = newID()
	}
	if err := checkStageJSON(s); err != nil {
		return nil, err
	}
	reqs := s.RequisiteStageRefIDs
	if reqs == nil {
		reqs = []string{}
	}
	reqJSON, err := json.Marshal(reqs)
	if err != nil {
		return nil, err
	}
	s.UpdatedAt = q.stamp(s.UpdatedAt)
	s.StartTime = normNullTime(s.StartTime)
	s.EndTime = normNullTime(s.EndTime)
	return []any{s.ID, s.ExecutionID, s.Seq, s.RefID, s.Name, s.Type, string(reqJSON), string(s.Status),
		jsonArg(s.Context), jsonArg(s.Outputs), jsonArg(s.Tasks),
		q.d.nullTime(s.StartTime), q.d.nullTime(s.EndTime), q.d.time(s.UpdatedAt)}, nil
}

// checkStageJSON checks the stage's JSON columns (checkJSON).
func checkStageJSON(s *store.Stage) error {
	for _, c := range []struct {
		name string
		raw  json.RawMessage
	}{{"context", s.Context}, {"outputs", s.Outputs}, {"tasks", s.Tasks}} {
		if err := checkJSON(c.name, c.raw); err != nil {
			return err
		}
	}
	return nil
}

// StageInsert implements store.Querier. An empty stage.ID is filled with a
// fresh UUID; times are normalised in place. ErrNotFound when the execution
// does not exist (on Postgres this aborts the transaction, like any failed
// statement), ErrConflict when the ID or the Seq is taken (which does not).
func (q *querier) StageInsert(ctx context.Context, stage *store.Stage) error {
	args, err := q.stageArgs(stage)
	if err != nil {
		return fmt.Errorf("insert stage %s: %w", stage.ID, err)
	}
	return q.cached(ctx, func(q *querier) error {
		// DO NOTHING, as in ExecutionInsert, so that a taken ID leaves a
		// Postgres transaction usable.
		n, err := q.exec(ctx, insertStage+` ON CONFLICT DO NOTHING`, args...)
		if err != nil {
			if errors.Is(err, ErrForeignKey) {
				return fmt.Errorf("insert stage %s: execution %s: %w", stage.ID, stage.ExecutionID, store.ErrNotFound)
			}
			return fmt.Errorf("insert stage %s of execution %s: %w", stage.ID, stage.ExecutionID, err)
		}
		if n == 0 {
			return fmt.Errorf("insert stage %s of execution %s: ID or Seq taken: %w", stage.ID, stage.ExecutionID, store.ErrConflict)
		}
		q.wroteStage(stage, true)
		return nil
	})
}

// StageUpdate implements store.Querier. The stage is found by ID and
// ExecutionID; only what a stage's run changes is written
// (store.Querier.StageUpdate), which on SQLite spares the (execution_id,
// seq) index a rewrite per update. A zero UpdatedAt is set from the
// clock; times are normalised in place.
func (q *querier) StageUpdate(ctx context.Context, stage *store.Stage) error {
	what := fmt.Sprintf("stage %s of execution %s", stage.ID, stage.ExecutionID)
	if stage.ID == "" {
		return fmt.Errorf("update stage: ID is empty")
	}
	if err := checkStageJSON(stage); err != nil {
		return fmt.Errorf("update %s: %w", what, err)
	}
	stage.UpdatedAt = q.stamp(stage.UpdatedAt)
	stage.StartTime = normNullTime(stage.StartTime)
	stage.EndTime = normNullTime(stage.EndTime)
	return q.cached(ctx, func(q *querier) error {
		return q.execOne(ctx, `UPDATE stage SET status = ?, context = ?, outputs = ?, tasks = ?, start_time = ?, end_time = ?, updated_at = ?
WHERE id = ? AND execution_id = ?`, []any{string(stage.Status), jsonArg(stage.Context), jsonArg(stage.Outputs), jsonArg(stage.Tasks),
			q.d.nullTime(stage.StartTime), q.d.nullTime(stage.EndTime), q.d.time(stage.UpdatedAt), stage.ID, stage.ExecutionID},
			func(err error) error {
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("%s: %w", what, store.ErrNotFound)
				}
				return fmt.Errorf("update %s: %w", what, err)
			}, func() { q.wroteStage(stage, false) })
	})
}
