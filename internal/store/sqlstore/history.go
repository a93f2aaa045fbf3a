package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluice-cd/sluice/internal/store"
)

// What the history benchmarks and the query-plan tests need of a store:
// many executions fast, the plan of a list query, the database's size.
// Nothing in a server calls them.

// FillExecutions writes n synthetic executions with one stage each, IDs
// fill-<first> … fill-<first+n-1>, generated in the database (a recursive
// query on SQLite, generate_series on Postgres) in transactions of at most
// 100,000, for benchmarks and query-plan tests. Execution i belongs to
// application app-<i%4> and pipeline pipe-<i/4%3>, was created i seconds
// after 2025-01-01 and is in its final status (on Postgres, like an
// execution the engine runs, it was inserted NOT_STARTED and updated):
// every 17th of the newest 1,000 is RUNNING with a manual judgment
// waiting (executions in flight are recent and few, however long the
// history), every tenth TERMINAL, the rest SUCCEEDED. Every fifth of the
// others was judged: its stage is a manualJudgment that ended, as the
// index of judgment stages (stage_judgment) holds them. So the lists of
// listCases return the same rows at 1,000 executions as at a million,
// and fill a page of 50 (but for one application's judgments, 15).
func (s *Store) FillExecutions(ctx context.Context, first, n int) error {
	const chunk = 100_000
	for lo := first; lo < first+n; lo += chunk {
		hi := min(lo+chunk, first+n) - 1
		if err := s.fill(ctx, lo, hi, first+n-1000); err != nil {
			return fmt.Errorf("fill executions %d to %d: %w", lo, hi, err)
		}
	}
	return nil
}

// fill writes executions lo to hi inclusive in one transaction; those
// from recent on may be running.
func (s *Store) fill(ctx context.Context, lo, hi, recent int) error {
	var series, at string
	if s.d.name == store.DialectSQLite {
		series = `WITH RECURSIVE n (i) AS (SELECT CAST(? AS INTEGER) UNION ALL SELECT i + 1 FROM n WHERE i < CAST(? AS INTEGER)) `
		// strftime is several times slower; this holds up to 31 days.
		at = `printf('2025-01-%02dT%02d:%02d:%02d.000000Z', 1 + i / 86400, i / 3600 % 24, i / 60 % 60, i % 60)`
	} else {
		series = ``
		at = `to_timestamp(1735689600 + i)`
	}
	from := ` FROM n`
	if s.d.name == store.DialectPostgres {
		from = ` FROM generate_series(CAST(? AS bigint), CAST(? AS bigint)) AS n (i)`
	}
	running := fmt.Sprintf("i %% 17 = 0 AND i >= %d", recent)
	final := `CASE WHEN ` + running + ` THEN 'RUNNING' WHEN i % 10 = 3 THEN 'TERMINAL' ELSE 'SUCCEEDED' END`
	endTime := `CASE WHEN ` + running + ` THEN NULL ELSE ` + at + ` END`
	// SQLite updates rows in place, so its executions are written as they
	// end; on Postgres each update leaves a dead row version and index
	// entries that only a vacuum removes, which is what a list without
	// autovacuum has to step over.
	first, start, end := final, at, endTime
	var updates []string
	if s.d.name == store.DialectPostgres {
		first, start, end = `'NOT_STARTED'`, `NULL`, `NULL`
		updates = []string{`UPDATE execution SET status = ` + final + `, start_time = created_at, end_time = ` + endTime + `
FROM (SELECT i` + from + `) AS f WHERE execution.id = 'fill-' || f.i`}
	}
	execs := series + `INSERT INTO execution (` + executionColumns + `)
SELECT 'fill-' || i, 'app-' || (i % 4), 'pipe-' || (i / 4 % 3), 'cfg-' || (i % 4) || '-' || (i / 4 % 3), 1, ` + first + `,
'{"application":"app","name":"pipe","stages":[{"refId":"1","type":"wait","name":"Wait","waitTime":0,"requisiteStageRefIds":[]}],"triggers":[],"parameterConfig":[]}',
'{"type":"manual","user":"ann","parameters":{"env":"dev"},"artifacts":[]}', NULL, 'ann', ` + s.d.falseLit() + `, ` + at + `, ` + start + `, ` + end + `, ` + at + from
	stages := series + `INSERT INTO stage (` + stageColumns + `)
SELECT 'fill-' || i || '-s', 'fill-' || i, 0, '1', 'Wait',
CASE WHEN ` + running + ` OR i % 5 = 1 THEN 'manualJudgment' ELSE 'wait' END, '[]',
CASE WHEN ` + running + ` THEN 'RUNNING' ELSE 'SUCCEEDED' END,
'{"waitTime":0}', '{}', '[{"id":"1","name":"wait","status":"SUCCEEDED"}]', ` + at + `, ` + endTime + `, ` + at + from
	return s.InTx(ctx, func(t store.Tx) error {
		x := t.(*tx)
		for _, stmt := range append([]string{execs, stages}, updates...) {
			if _, err := x.exec(ctx, stmt, lo, hi); err != nil {
				return fmt.Errorf("%.40s…: %w", stmt, err)
			}
		}
		return nil
	})
}

// falseLit is the literal for false in a boolean column.
func (d *dialect) falseLit() string {
	if d.name == store.DialectSQLite {
		return "0"
	}
	return "false"
}

// ExplainExecutionList returns the plan the database chooses for the
// statement ExecutionList runs for params: EXPLAIN QUERY PLAN's details on
// SQLite, one line each; EXPLAIN's text on Postgres. On Postgres, settings
// are SET LOCAL for the transaction the plan is made in, such as
// "enable_seqscan = off".
func (s *Store) ExplainExecutionList(ctx context.Context, params *store.ExecutionListParams, settings ...string) (string, error) {
	query, args, _, err := s.executionListQuery(params)
	if err != nil {
		return "", err
	}
	var lines []string
	err = s.InTx(ctx, func(t store.Tx) error {
		x := t.(*tx)
		prefix := "EXPLAIN QUERY PLAN "
		if s.d.name == store.DialectPostgres {
			prefix = "EXPLAIN "
			for _, set := range settings {
				if _, err := x.exec(ctx, "SET LOCAL "+set); err != nil {
					return err
				}
			}
		}
		return x.query(ctx, prefix+query, args, func(r Row) error {
			if s.d.name == store.DialectPostgres {
				var line string
				if err := r.Scan(&line); err != nil {
					return err
				}
				lines = append(lines, line)
				return nil
			}
			var id, parent, unused int
			var detail string
			if err := r.Scan(&id, &parent, &unused, &detail); err != nil {
				return err
			}
			lines = append(lines, detail)
			return nil
		})
	})
	return strings.Join(lines, "\n"), err
}

// Size returns the bytes the database's tables and indexes take: on
// SQLite the database's pages (page_count × page_size, what is in the
// write-ahead log included); on Postgres the total size of the relations
// of the current schema, TOAST and indexes included.
func (s *Store) Size(ctx context.Context) (int64, error) {
	query := `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`
	if s.d.name == store.DialectPostgres {
		query = `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
JOIN pg_namespace ns ON ns.oid = c.relnamespace
WHERE ns.nspname = current_schema() AND c.relkind IN ('r', 'm')`
	}
	var n int64
	if err := s.queryRow(ctx, query).Scan(&n); err != nil {
		return 0, fmt.Errorf("database size: %w", err)
	}
	return n, nil
}
