package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/sluice-cd/sluice/internal/store"
)

// pipelineColumns are read by scanPipeline, from pipeline p joined with
// pipeline_revision r.
const pipelineColumns = `p.id, p.application, p.name, r.revision, r.document, r.created_by, r.created_at, p.deleted`

func scanPipeline(row Row) (*store.Pipeline, error) {
	var p store.Pipeline
	err := row.Scan(&p.ID, &p.Application, &p.Name, &p.Revision, scanJSON(&p.Document), &p.CreatedBy,
		scanTime(&p.CreatedAt), &p.Deleted)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// PipelineSave implements store.Querier. A params.ID that another pipeline
// has is ErrConflict (on Postgres, like any failed statement, it aborts the
// transaction).
func (q *querier) PipelineSave(ctx context.Context, params *store.PipelineSaveParams) (*store.Pipeline, error) {
	what := fmt.Sprintf("pipeline %s/%s", params.Application, params.Name)
	if params.Application == "" || params.Name == "" {
		return nil, fmt.Errorf("save %s: application and name are required", what)
	}
	if len(params.Document) == 0 {
		return nil, fmt.Errorf("save %s: document is empty", what)
	}
	if err := checkJSON("document", params.Document); err != nil {
		return nil, fmt.Errorf("save %s: %w", what, err)
	}
	id := params.ID
	if id == "" {
		id = newID()
	}
	p := &store.Pipeline{
		Application: params.Application,
		Name:        params.Name,
		Document:    params.Document,
		CreatedBy:   params.User,
		CreatedAt:   q.stamp(q.now()),
	}
	err := q.atomic(ctx, false, func(q *querier) error {
		// The upsert locks the pipeline row (Postgres) until commit, so
		// concurrent saves get consecutive revisions.
		err := q.queryRow(ctx, `INSERT INTO pipeline (id, application, name, revision, deleted)
VALUES (?, ?, ?, 1, FALSE)
ON CONFLICT (application, name) DO UPDATE SET revision = pipeline.revision + 1, deleted = FALSE
RETURNING id, revision`, id, p.Application, p.Name).Scan(&p.ID, &p.Revision)
		if err != nil {
			return err
		}
		_, err = q.exec(ctx, `INSERT INTO pipeline_revision (pipeline_id, revision, document, created_by, created_at)
VALUES (?, ?, ?, ?, ?)`, p.ID, p.Revision, jsonArg(p.Document), p.CreatedBy, q.d.time(p.CreatedAt))
		return err
	})
	if err != nil {
		// A conflict here is params.ID already naming another pipeline.
		return nil, fmt.Errorf("save %s: %w", what, err)
	}
	return p, nil
}

// PipelineGet implements store.Querier.
func (q *querier) PipelineGet(ctx context.Context, application, name string) (*store.Pipeline, error) {
	q = q.reader()
	p, err := scanPipeline(q.queryRow(ctx, `SELECT `+pipelineColumns+`
FROM pipeline p JOIN pipeline_revision r ON r.pipeline_id = p.id AND r.revision = p.revision
WHERE p.application = ? AND p.name = ? AND NOT p.deleted`, application, name))
	if err != nil {
		return nil, notFound(err, "get", fmt.Sprintf("pipeline %s/%s", application, name))
	}
	return p, nil
}

// PipelineGetByID implements store.Querier. It returns deleted pipelines
// too, with Deleted set: executions keep referring to them.
func (q *querier) PipelineGetByID(ctx context.Context, id string) (*store.Pipeline, error) {
	q = q.reader()
	p, err := scanPipeline(q.queryRow(ctx, `SELECT `+pipelineColumns+`
FROM pipeline p JOIN pipeline_revision r ON r.pipeline_id = p.id AND r.revision = p.revision
WHERE p.id = ?`, id))
	if err != nil {
		return nil, notFound(err, "get", "pipeline "+id)
	}
	return p, nil
}

// PipelineList implements store.Querier.
func (q *querier) PipelineList(ctx context.Context, params *store.PipelineListParams) ([]*store.Pipeline, error) {
	q = q.reader()
	query := `SELECT ` + pipelineColumns + `
FROM pipeline p JOIN pipeline_revision r ON r.pipeline_id = p.id AND r.revision = p.revision
WHERE NOT p.deleted`
	var args []any
	if params != nil && params.Application != "" {
		query += ` AND p.application = ?`
		args = append(args, params.Application)
	}
	query += ` ORDER BY p.application, p.name`
	ps, err := q.listPipelines(ctx, query, args)
	if err != nil {
		return nil, fmt.Errorf("list pipelines: %w", err)
	}
	return ps, nil
}

// PipelineDelete implements store.Querier.
func (q *querier) PipelineDelete(ctx context.Context, application, name string) error {
	what := fmt.Sprintf("pipeline %s/%s", application, name)
	n, err := q.exec(ctx, `UPDATE pipeline SET deleted = TRUE WHERE application = ? AND name = ? AND NOT deleted`,
		application, name)
	if err != nil {
		return fmt.Errorf("delete %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// PipelineRevisionList implements store.Querier. ErrNotFound when no
// pipeline has this ID (every pipeline has at least one revision).
func (q *querier) PipelineRevisionList(ctx context.Context, pipelineID string) ([]*store.Pipeline, error) {
	q = q.reader()
	ps, err := q.listPipelines(ctx, `SELECT `+pipelineColumns+`
FROM pipeline p JOIN pipeline_revision r ON r.pipeline_id = p.id
WHERE p.id = ?
ORDER BY r.revision DESC`, []any{pipelineID})
	if err != nil {
		return nil, fmt.Errorf("list revisions of pipeline %s: %w", pipelineID, err)
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("pipeline %s: %w", pipelineID, store.ErrNotFound)
	}
	return ps, nil
}

// PipelineRevisionGet implements store.Querier.
func (q *querier) PipelineRevisionGet(ctx context.Context, pipelineID string, revision int) (*store.Pipeline, error) {
	q = q.reader()
	p, err := scanPipeline(q.queryRow(ctx, `SELECT `+pipelineColumns+`
FROM pipeline p JOIN pipeline_revision r ON r.pipeline_id = p.id
WHERE p.id = ? AND r.revision = ?`, pipelineID, revision))
	if err != nil {
		return nil, notFound(err, "get", fmt.Sprintf("revision %d of pipeline %s", revision, pipelineID))
	}
	return p, nil
}

func (q *querier) listPipelines(ctx context.Context, query string, args []any) ([]*store.Pipeline, error) {
	ps := []*store.Pipeline{}
	err := q.query(ctx, query, args, func(r Row) error {
		p, err := scanPipeline(r)
		if err != nil {
			return err
		}
		ps = append(ps, p)
		return nil
	})
	return ps, err
}

// notFound wraps err for a failed lookup of what: "what: not found" when
// the row is missing, "verb what: err" otherwise.
func notFound(err error, verb, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("%s %s: %w", verb, what, err)
}

// newID returns a fresh UUID. Version 7 is time-ordered, which keeps the
// primary key indexes append-mostly.
func newID() string {
	return uuid.Must(uuid.NewV7()).String()
}
