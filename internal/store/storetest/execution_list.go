package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

var executionListTests = []test{
	{"Filters", testExecutionListFilters},
	{"Pages", testExecutionListPages},
	{"DefaultLimit", testExecutionListDefaultLimit},
	{"StableUnderInserts", testExecutionListStableUnderInserts},
	{"BadCursor", testExecutionListBadCursor},
	{"EmptyResults", testEmptyResults},
	{"AwaitingJudgment", testExecutionListAwaitingJudgment},
	{"Search", testExecutionListSearch},
}

// listAll follows NextCursor to the end and returns the IDs of every page.
func listAll(t *testing.T, s store.Store, params store.ExecutionListParams) [][]string {
	t.Helper()
	var pages [][]string
	for {
		page, err := s.ExecutionList(t.Context(), &params)
		if err != nil {
			t.Fatalf("ExecutionList(%+v): %v", params, err)
		}
		for _, e := range page.Executions {
			if e.Stages != nil {
				t.Errorf("ExecutionList: %s has stages, want nil", e.ID)
			}
		}
		pages = append(pages, executionIDs(page.Executions))
		if page.NextCursor == "" {
			return pages
		}
		if len(pages) > 100 {
			t.Fatalf("ExecutionList(%+v): more than 100 pages", params)
		}
		params.Cursor = page.NextCursor
	}
}

func testExecutionListFilters(t *testing.T, s store.Store) {
	// Newest first: by CreatedAt, then by ID when times are equal.
	mustInsert(t, s,
		newExecution("a1", "a", "p", status.Succeeded, at(1), 1),
		newExecution("a2", "a", "p", status.Running, at(2), 1),
		newExecution("a3", "a", "q", status.Terminal, at(3), 1),
		newExecution("a4", "a", "q", status.Running, at(4), 1),
		newExecution("b1", "b", "p", status.Running, at(4), 1),
		newExecution("b2", "b", "p", status.Paused, at(5), 1),
		newExecution("b3", "b", "r", status.Succeeded, at(0), 1),
	)
	for _, tc := range []struct {
		name   string
		params store.ExecutionListParams
		want   []string
	}{
		{"all", store.ExecutionListParams{}, []string{"b2", "b1", "a4", "a3", "a2", "a1", "b3"}},
		{"application", store.ExecutionListParams{Application: "a"}, []string{"a4", "a3", "a2", "a1"}},
		{"pipeline in application", store.ExecutionListParams{Application: "b", PipelineName: "p"}, []string{"b2", "b1"}},
		{"pipeline in any application", store.ExecutionListParams{PipelineName: "p"}, []string{"b2", "b1", "a2", "a1"}},
		{"one status", store.ExecutionListParams{Statuses: []status.Status{status.Running}}, []string{"b1", "a4", "a2"}},
		{"two statuses", store.ExecutionListParams{Statuses: []status.Status{status.Succeeded, status.Paused}}, []string{"b2", "a1", "b3"}},
		{"every filter", store.ExecutionListParams{Application: "a", PipelineName: "q", Statuses: []status.Status{status.Running, status.NotStarted}}, []string{"a4"}},
		{"no match", store.ExecutionListParams{Application: "c"}, []string{}},
	} {
		pages := listAll(t, s, tc.params)
		if len(pages) != 1 {
			t.Errorf("ExecutionList(%s): %d pages, want 1", tc.name, len(pages))
		}
		check(t, "ExecutionList("+tc.name+")", pages[0], tc.want)
	}

	page, err := s.ExecutionList(t.Context(), &store.ExecutionListParams{Application: "b", PipelineName: "r"})
	if err != nil || len(page.Executions) != 1 {
		t.Fatalf("ExecutionList: %+v, %v", page, err)
	}
	check(t, "ExecutionList row", page.Executions[0], summary(newExecution("b3", "b", "r", status.Succeeded, at(0), 0)))
}

func testExecutionListPages(t *testing.T, s store.Store) {
	// 23 executions; five share one CreatedAt, so a page boundary falls
	// between equal times.
	var want []string
	var execs []*store.Execution
	for i := range 23 {
		sec := i
		if i >= 10 && i < 15 {
			sec = 10
		}
		app := []string{"a", "b"}[i%2]
		e := newExecution(fmt.Sprintf("e%02d", i), app, "p", status.Running, at(sec), 0)
		execs = append(execs, e)
		want = append(want, e.ID)
	}
	slices.Reverse(want)
	mustInsert(t, s, execs...)

	pages := listAll(t, s, store.ExecutionListParams{Limit: 5})
	sizes := []int{}
	for _, p := range pages {
		sizes = append(sizes, len(p))
	}
	check(t, "page sizes", sizes, []int{5, 5, 5, 5, 3})
	check(t, "pages concatenated", slices.Concat(pages...), want)

	// An exact multiple of the limit ends with a full page and no cursor.
	pages = listAll(t, s, store.ExecutionListParams{Limit: 23})
	if len(pages) != 1 || len(pages[0]) != 23 {
		t.Errorf("Limit 23 of 23: got pages of %v, want one of 23", pages)
	}

	pages = listAll(t, s, store.ExecutionListParams{Application: "a", Limit: 2})
	check(t, "filtered pages concatenated", slices.Concat(pages...), newestOf(execs, "a"))
	if len(pages) != 6 {
		t.Errorf("12 executions of a by 2: %d pages, want 6", len(pages))
	}
}

// newestOf returns the IDs of app's executions in execs, which are in
// CreatedAt order, newest first.
func newestOf(execs []*store.Execution, app string) []string {
	var ids []string
	for _, e := range slices.Backward(execs) {
		if e.Application == app {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

func testExecutionListDefaultLimit(t *testing.T, s store.Store) {
	err := s.InTx(t.Context(), func(tx store.Tx) error {
		for i := range 51 {
			mustInsert(t, tx, newExecution(fmt.Sprintf("e%02d", i), "app", "p", status.Running, at(i), 0))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	pages := listAll(t, s, store.ExecutionListParams{})
	if len(pages) != 2 || len(pages[0]) != 50 || len(pages[1]) != 1 || pages[1][0] != "e00" {
		t.Errorf("51 executions with Limit 0: got pages %v, want 50 then [e00]", pages)
	}
}

// testExecutionListStableUnderInserts inserts newer executions between two
// page reads: the second page continues where the first ended.
func testExecutionListStableUnderInserts(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 6 {
		mustInsert(t, s, newExecution(fmt.Sprintf("e%d", i), "app", "p", status.Running, at(i), 0))
	}
	first, err := s.ExecutionList(ctx, &store.ExecutionListParams{Limit: 3})
	if err != nil {
		t.Fatalf("ExecutionList: %v", err)
	}
	check(t, "first page", executionIDs(first.Executions), []string{"e5", "e4", "e3"})

	mustInsert(t, s,
		newExecution("n1", "app", "p", status.Running, at(10), 0),
		newExecution("n2", "app", "p", status.Running, at(3), 0), // same time as e3, later ID: belongs to page one
		newExecution("d1", "app", "p", status.Running, at(3), 0), // same time as e3, earlier ID: belongs after it
	)
	second, err := s.ExecutionList(ctx, &store.ExecutionListParams{Limit: 3, Cursor: first.NextCursor})
	if err != nil {
		t.Fatalf("ExecutionList: %v", err)
	}
	check(t, "second page", executionIDs(second.Executions), []string{"d1", "e2", "e1"})
}

func testExecutionListBadCursor(t *testing.T, s store.Store) {
	for _, c := range []string{"%%%", "bm90IGEgY3Vyc29y", "MTIz"} {
		_, err := s.ExecutionList(t.Context(), &store.ExecutionListParams{Cursor: c})
		if err == nil {
			t.Errorf("ExecutionList(Cursor %q): got nil error, want one", c)
		}
	}
}

// testEmptyResults checks that every list method returns an empty slice,
// not nil, when nothing matches (it encodes as [] in the API, not null).
func testEmptyResults(t *testing.T, s store.Store) {
	ctx := t.Context()
	pipelines, err := s.PipelineList(ctx, &store.PipelineListParams{})
	if err != nil || pipelines == nil {
		t.Errorf("PipelineList: %#v, %v; want an empty slice", pipelines, err)
	}
	page, err := s.ExecutionList(ctx, &store.ExecutionListParams{})
	if err != nil || page.Executions == nil || page.NextCursor != "" {
		t.Errorf("ExecutionList: %#v, %v; want an empty slice and no cursor", page, err)
	}
	execs, err := s.ExecutionListByConfig(ctx, "cfg", nil)
	if err != nil || execs == nil {
		t.Errorf("ExecutionListByConfig: %#v, %v; want an empty slice", execs, err)
	}
	evs, err := s.EventList(ctx, &store.EventListParams{})
	if err != nil || evs == nil {
		t.Errorf("EventList: %#v, %v; want an empty slice", evs, err)
	}
	entries, err := s.AuditList(ctx, &store.AuditListParams{})
	if err != nil || entries == nil {
		t.Errorf("AuditList: %#v, %v; want an empty slice", entries, err)
	}
}

// testExecutionListAwaitingJudgment: AwaitingJudgment keeps the
// executions with a running manualJudgment stage, whatever else they run,
// and gives each its waiting judgments and no other stage.
func testExecutionListAwaitingJudgment(t *testing.T, s store.Store) {
	judging := func(e *store.Execution, st ...status.Status) *store.Execution {
		for i, x := range st {
			e.Stages[i].Type, e.Stages[i].Status = "manualJudgment", x
		}
		return e
	}
	waits := judging(newExecution("w1", "a", "p", status.Running, at(1), 3), status.Succeeded, status.Running)
	waits.Stages[2].Status = status.Running // a running wait stage beside it
	twice := judging(newExecution("w2", "b", "p", status.Running, at(2), 2), status.Running, status.Running)
	judged := judging(newExecution("j1", "a", "p", status.Running, at(3), 2), status.Succeeded)
	notYet := judging(newExecution("n1", "a", "p", status.Running, at(4), 1), status.NotStarted)
	mustInsert(t, s, waits, twice, judged, notYet, newExecution("x1", "a", "p", status.Running, at(5), 2))

	page, err := s.ExecutionList(t.Context(), &store.ExecutionListParams{AwaitingJudgment: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := executionIDs(page.Executions), []string{"w2", "w1"}; !slices.Equal(got, want) {
		t.Fatalf("awaiting judgment: %v, want %v", got, want)
	}
	for _, tc := range []struct {
		e    *store.Execution
		want []string
	}{{page.Executions[0], []string{"w2-s0", "w2-s1"}}, {page.Executions[1], []string{"w1-s1"}}} {
		var got []string
		for _, st := range tc.e.Stages {
			got = append(got, st.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: stages %v, want its waiting judgments %v", tc.e.ID, got, tc.want)
		}
	}
	page, err = s.ExecutionList(t.Context(), &store.ExecutionListParams{AwaitingJudgment: true, Application: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if got := executionIDs(page.Executions); !slices.Equal(got, []string{"w2"}) {
		t.Errorf("awaiting judgment in application b: %v, want [w2]", got)
	}
}

// testExecutionListSearch: words of Search match the trigger's parameters
// (key=value exactly, other words anywhere in its JSON, ignoring case) or
// the beginning of the id; every word must match.
func testExecutionListSearch(t *testing.T, s store.Store) {
	triggers := map[string]string{
		"s1": `{"type":"manual","user":"ann","parameters":{"version":"v1","env":"dev"}}`,
		"s2": `{"type": "manual", "user": "bob", "parameters": {"version": "v2", "env": "prod"}}`,
		"s3": `{"type":"api","user":"Carol","parameters":{"version":"v20","note":"50%_off"}}`,
		"s4": `{"type":"manual","user":"ann"}`,
	}
	var execs []*store.Execution
	for i, id := range []string{"s1", "s2", "s3", "s4"} {
		e := newExecution(id, "a", "p", status.Succeeded, at(i), 0)
		e.Trigger = json.RawMessage(triggers[id])
		execs = append(execs, e)
	}
	mustInsert(t, s, execs...)
	for _, tc := range []struct {
		search string
		want   []string
	}{
		{"version=v2", []string{"s2"}},
		{"version=v", []string{}},
		{"v2", []string{"s3", "s2"}},
		{"carol", []string{"s3"}},
		{"ANN", []string{"s4", "s1"}},
		{"env=prod", []string{"s2"}},
		{"ann v1", []string{"s1"}},
		{"ann version=v2", []string{}},
		{"50%_off", []string{"s3"}},
		{"50%", []string{"s3"}},
		{"%", []string{"s3"}},
		{"_", []string{"s3"}},
		{"s", []string{"s4", "s3", "s2", "s1"}},
		{"  ", []string{"s4", "s3", "s2", "s1"}},
		{"nothing", []string{}},
	} {
		got := []string{}
		for _, p := range listAll(t, s, store.ExecutionListParams{Search: tc.search}) {
			got = append(got, p...)
		}
		check(t, "ExecutionList(Search: "+tc.search+")", got, tc.want)
	}
}
