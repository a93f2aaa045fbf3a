package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sluice-cd/sluice/internal/store"
)

// canaryConfigColumns are read by scanCanaryConfig, from canary_config c
// joined with canary_config_revision r.
const canaryConfigColumns = `c.id, c.name, r.revision, r.applications, r.document, r.created_by, r.created_at, c.deleted`

// canaryConfigFrom joins each config with the revision the query picks.
const canaryConfigFrom = ` FROM canary_config c JOIN canary_config_revision r ON r.config_id = c.id`

func scanCanaryConfig(row Row) (*store.CanaryConfig, error) {
	var (
		c    store.CanaryConfig
		apps json.RawMessage
	)
	err := row.Scan(&c.ID, &c.Name, &c.Revision, scanJSON(&apps), scanJSON(&c.Document), &c.CreatedBy,
		scanTime(&c.CreatedAt), &c.Deleted)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(apps, &c.Applications); err != nil {
		return nil, fmt.Errorf("canary config %s revision %d: applications: %w", c.Name, c.Revision, err)
	}
	if c.Applications == nil {
		c.Applications = []string{}
	}
	return &c, nil
}

// CanaryConfigSave implements store.Querier.
func (q *querier) CanaryConfigSave(ctx context.Context, params *store.CanaryConfigSaveParams) (*store.CanaryConfig, error) {
	what := fmt.Sprintf("canary config %q", params.Name)
	if params.Name == "" {
		return nil, fmt.Errorf("save canary config: name is required")
	}
	if len(params.Document) == 0 {
		return nil, fmt.Errorf("save %s: document is empty", what)
	}
	if err := checkJSON("document", params.Document); err != nil {
		return nil, fmt.Errorf("save %s: %w", what, err)
	}
	c := &store.CanaryConfig{
		Name:         params.Name,
		Applications: params.Applications,
		Document:     params.Document,
		CreatedBy:    params.User,
		CreatedAt:    q.stamp(q.now()),
	}
	if c.Applications == nil {
		c.Applications = []string{}
	}
	apps, err := json.Marshal(c.Applications)
	if err != nil {
		return nil, fmt.Errorf("save %s: applications: %w", what, err)
	}
	err = q.atomic(ctx, false, func(q *querier) error {
		// The upsert locks the config's row (Postgres) until commit, so
		// concurrent saves get consecutive revisions.
		err := q.queryRow(ctx, `INSERT INTO canary_config (id, name, revision, deleted)
VALUES (?, ?, 1, FALSE)
ON CONFLICT (name) DO UPDATE SET revision = canary_config.revision + 1, deleted = FALSE
RETURNING id, revision`, newID(), c.Name).Scan(&c.ID, &c.Revision)
		if err != nil {
			return err
		}
		_, err = q.exec(ctx, `INSERT INTO canary_config_revision (config_id, revision, applications, document, created_by, created_at)
VALUES (?, ?, ?, ?, ?, ?)`, c.ID, c.Revision, string(apps), jsonArg(c.Document), c.CreatedBy, q.d.time(c.CreatedAt))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("save %s: %w", what, err)
	}
	return c, nil
}

// CanaryConfigGet implements store.Querier.
func (q *querier) CanaryConfigGet(ctx context.Context, name string) (*store.CanaryConfig, error) {
	q = q.reader()
	c, err := scanCanaryConfig(q.queryRow(ctx, `SELECT `+canaryConfigColumns+canaryConfigFrom+` AND r.revision = c.revision
WHERE c.name = ? AND NOT c.deleted`, name))
	if err != nil {
		return nil, notFound(err, "get", fmt.Sprintf("canary config %q", name))
	}
	return c, nil
}

// CanaryConfigList implements store.Querier.
func (q *querier) CanaryConfigList(ctx context.Context) ([]*store.CanaryConfig, error) {
	q = q.reader()
	cs, err := q.listCanaryConfigs(ctx, `SELECT `+canaryConfigColumns+canaryConfigFrom+` AND r.revision = c.revision
WHERE NOT c.deleted ORDER BY c.name`, nil)
	if err != nil {
		return nil, fmt.Errorf("list canary configs: %w", err)
	}
	return cs, nil
}

// CanaryConfigDelete implements store.Querier.
func (q *querier) CanaryConfigDelete(ctx context.Context, name string) error {
	what := fmt.Sprintf("canary config %q", name)
	n, err := q.exec(ctx, `UPDATE canary_config SET deleted = TRUE WHERE name = ? AND NOT deleted`, name)
	if err != nil {
		return fmt.Errorf("delete %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// CanaryConfigRevisionList implements store.Querier. ErrNotFound when no
// config in force has this name (every config has at least one revision).
func (q *querier) CanaryConfigRevisionList(ctx context.Context, name string) ([]*store.CanaryConfig, error) {
	q = q.reader()
	cs, err := q.listCanaryConfigs(ctx, `SELECT `+canaryConfigColumns+canaryConfigFrom+`
WHERE c.name = ? AND NOT c.deleted
ORDER BY r.revision DESC`, []any{name})
	if err != nil {
		return nil, fmt.Errorf("list revisions of canary config %q: %w", name, err)
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("canary config %q: %w", name, store.ErrNotFound)
	}
	return cs, nil
}

// CanaryConfigRevisionGet implements store.Querier.
func (q *querier) CanaryConfigRevisionGet(ctx context.Context, name string, revision int) (*store.CanaryConfig, error) {
	q = q.reader()
	c, err := scanCanaryConfig(q.queryRow(ctx, `SELECT `+canaryConfigColumns+canaryConfigFrom+`
WHERE c.name = ? AND NOT c.deleted AND r.revision = ?`, name, revision))
	if err != nil {
		return nil, notFound(err, "get", fmt.Sprintf("revision %d of canary config %q", revision, name))
	}
	return c, nil
}

func (q *querier) listCanaryConfigs(ctx context.Context, query string, args []any) ([]*store.CanaryConfig, error) {
	cs := []*store.CanaryConfig{}
	err := q.query(ctx, query, args, func(r Row) error {
		c, err := scanCanaryConfig(r)
		if err != nil {
			return err
		}
		cs = append(cs, c)
		return nil
	})
	return cs, err
}
