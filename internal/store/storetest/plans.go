package storetest

import (
	"cmp"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// HistoryStore is what the history benchmarks and plan checks need of a
// store beyond store.Store (package sqlstore's Store has it).
type HistoryStore interface {
	store.Store
	// FillExecutions writes n synthetic executions, fill-<first> onwards,
	// straight through SQL.
	FillExecutions(ctx context.Context, first, n int) error
	// ExplainExecutionList returns the plan of ExecutionList's statement.
	ExplainExecutionList(ctx context.Context, params *store.ExecutionListParams, settings ...string) (string, error)
	// Size returns the bytes the database's tables and indexes take.
	Size(ctx context.Context) (int64, error)
}

// listCase is one list the console and the API ask for, and the indexes
// that must serve it.
type listCase struct {
	name    string
	params  store.ExecutionListParams
	indexes []string
	// probed, when set, is an index the plan must look up once per
	// execution it reads, in a subquery, rather than read first: the
	// index of judgment stages holds every one in the history.
	probed string
}

// listCases are the lists of the console and the API (GET
// /api/v1/executions): all, by application, by pipeline, by status, with
// a judgment waiting, and a next page. The executions are those of
// FillExecutions.
func listCases(cursor string) []listCase {
	running := []status.Status{status.Running}
	ended := []status.Status{status.Succeeded, status.Terminal}
	return []listCase{
		{"all", store.ExecutionListParams{}, []string{"execution_created_at"}, ""},
		{"application", store.ExecutionListParams{Application: "app-1"}, []string{"execution_application"}, ""},
		{"next page of an application", store.ExecutionListParams{Application: "app-1", Cursor: cursor}, []string{"execution_application"}, ""},
		{"pipeline", store.ExecutionListParams{Application: "app-1", PipelineName: "pipe-2"}, []string{"execution_application_pipeline_name"}, ""},
		{"status", store.ExecutionListParams{Statuses: running}, []string{"execution_status"}, ""},
		{"statuses", store.ExecutionListParams{Statuses: ended}, []string{"execution_status"}, ""},
		{"application and status", store.ExecutionListParams{Application: "app-1", Statuses: []status.Status{status.Succeeded}}, []string{"execution_application_status"}, ""},
		{"application and statuses", store.ExecutionListParams{Application: "app-1", Statuses: ended}, []string{"execution_application_status"}, ""},
		{"awaiting judgment", store.ExecutionListParams{Statuses: running, AwaitingJudgment: true}, []string{"execution_status"}, "stage_judgment"},
		{"application awaiting judgment", store.ExecutionListParams{Application: "app-1", Statuses: running, AwaitingJudgment: true}, []string{"execution_application_status"}, "stage_judgment"},
	}
}

// firstCursor returns the cursor after the first page of app-1's
// executions.
func firstCursor(t testing.TB, s store.Store) string {
	t.Helper()
	page, err := s.ExecutionList(t.Context(), &store.ExecutionListParams{Application: "app-1", Limit: 5})
	if err != nil || page.NextCursor == "" {
		t.Fatalf("ExecutionList(app-1): %v, next cursor %q; want one", err, page.NextCursor)
	}
	return page.NextCursor
}

// sqliteSort is a sort of the rows of one arm of a union (SCAN s0), which
// holds at most a page; any other sort sorts what the filter matched.
var (
	pgSort    = regexp.MustCompile(`(^|->  )Sort  `)
	pgBitmap  = regexp.MustCompile(`Bitmap (Heap|Index) Scan`)
	sqliteArm = regexp.MustCompile(`^SCAN s\d+$`)
)

// ExecutionListPlans checks, on a store filled with FillExecutions, that
// every list of listCases reads the execution table through the indexes
// made for it, in order: no scan of the table, no sort of what matched
// (a union of several statuses sorts its arms, a page each). On SQLite
// the plans are the ones it chooses without statistics, as a database
// nobody ran ANALYZE on has. On Postgres it asks whether such a plan
// exists, with seqscan, bitmapscan and sort disabled: the planner's
// choice among plans depends on statistics that a test's few rows do
// not give (BenchmarkExecutionList times what it chooses at a million).
// There it also checks that the plan does not depend on the page size:
// then the generic plan of the prepared statement is estimated to cost
// what a plan for the call's arguments does, and Postgres keeps it rather
// than planning every call afresh, which on a long history cost more
// than the read.
func ExecutionListPlans(t *testing.T, s HistoryStore) {
	ctx := t.Context()
	if err := s.FillExecutions(ctx, 0, 3000); err != nil {
		t.Fatal(err)
	}
	var settings []string
	if s.Dialect() == store.DialectPostgres {
		settings = []string{"enable_seqscan = off", "enable_bitmapscan = off", "enable_sort = off"}
	}
	for _, tc := range listCases(firstCursor(t, s)) {
		plan, err := s.ExplainExecutionList(ctx, &tc.params, settings...)
		if err != nil {
			t.Fatalf("%s: explain: %v", tc.name, err)
		}
		if s.Dialect() == store.DialectPostgres {
			other := tc.params
			other.Limit = 500
			otherPlan, err := s.ExplainExecutionList(ctx, &other, settings...)
			if err != nil {
				t.Fatalf("%s: explain with a page of %d: %v", tc.name, other.Limit, err)
			}
			if otherPlan != plan {
				t.Errorf("%s: the plan depends on the page size; a page of %d:\n%s\na page of %d:\n%s",
					tc.name, cmp.Or(tc.params.Limit, 50), plan, other.Limit, otherPlan)
			}
		}
		lines := strings.Split(plan, "\n")
		if tc.probed != "" {
			checkProbed(t, tc.name, plan, tc.probed)
		}
		for _, idx := range tc.indexes {
			if !regexp.MustCompile(`\b` + idx + `\b`).MatchString(plan) {
				t.Errorf("%s: the plan does not use index %s:\n%s", tc.name, idx, plan)
			}
		}
		for _, line := range lines {
			trimmed := strings.TrimSpace(line)
			switch s.Dialect() {
			case store.DialectSQLite:
				full := strings.HasPrefix(trimmed, "SCAN execution") && tc.name != "all"
				if full || strings.HasPrefix(trimmed, "SCAN stage") {
					t.Errorf("%s: the plan scans a table (%s):\n%s", tc.name, trimmed, plan)
				}
			case store.DialectPostgres:
				if strings.Contains(line, "Seq Scan") || pgSort.MatchString(trimmed) || pgBitmap.MatchString(line) {
					t.Errorf("%s: the plan scans a table or sorts what matched (%s):\n%s", tc.name, trimmed, plan)
				}
			}
		}
		if s.Dialect() == store.DialectSQLite {
			for i, line := range lines {
				if strings.Contains(line, "TEMP B-TREE") && (i == 0 || !sqliteArm.MatchString(strings.TrimSpace(lines[i-1]))) {
					t.Errorf("%s: the plan sorts what matched:\n%s", tc.name, plan)
				}
			}
		}
	}
}

// subquery starts the part of a plan that runs once per row of the outer
// query: Postgres's SubPlan, SQLite's correlated subquery.
var subquery = regexp.MustCompile(`SubPlan \d+|CORRELATED SCALAR SUBQUERY`)

// checkProbed checks that plan uses index only inside a subquery run per
// row of the outer query.
func checkProbed(t *testing.T, name, plan, index string) {
	t.Helper()
	loc := subquery.FindStringIndex(plan)
	switch {
	case loc == nil:
		t.Errorf("%s: the plan has no subquery run per execution:\n%s", name, plan)
	case strings.Contains(plan[:loc[0]], index):
		t.Errorf("%s: the plan reads index %s before the executions, not once per execution:\n%s", name, index, plan)
	case !regexp.MustCompile(`\b` + index + `\b`).MatchString(plan[loc[1]:]):
		t.Errorf("%s: the plan's subquery does not use index %s:\n%s", name, index, plan)
	}
}
