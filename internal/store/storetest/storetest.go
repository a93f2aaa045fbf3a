// Package storetest is the conformance suite for store.Store: every
// implementation runs Run from its tests and must pass all of it, so that
// SQLite and Postgres behave the same to the engine and the API.
//
// The suite checks the contract in package store and the details both
// implementations settle the same way where the contract is silent: empty
// IDs and zero times are filled in, times come back in UTC to the
// microsecond, JSON comes back byte for byte (nil as nil), list results are
// empty slices rather than nil, and a taken ID inside InTx is ErrConflict
// without spoiling the transaction. It checks behaviour, not an
// implementation's internals, and must not import an implementation. Each
// subtest opens its own store with the function it is given and may run in
// parallel with the others.
//
// ReadsBesideWriter is a further check, outside Run, for stores whose reads
// outside a transaction do not wait for a writer: both, except SQLite on
// ":memory:".
//
// It also holds the store benchmarks (BenchmarkExecutionInsert,
// BenchmarkStageUpdateInTx), which implementations call from Benchmark
// functions of their own.
package storetest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// Run runs the conformance suite. open returns a new, empty store for one
// subtest and arranges with t.Cleanup to close it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Pipeline", pipelineTests},
		{"CanaryConfig", canaryConfigTests},
		{"Execution", executionTests},
		{"ExecutionList", executionListTests},
		{"Stage", stageTests},
		{"Event", eventTests},
		{"Audit", auditTests},
		{"Credential", credentialTests},
		{"InTx", txTests},
		{"JSON", jsonTests},
		{"Time", timeTests},
		{"Concurrency", concurrencyTests},
		{"Reads", readTests},
		{"Trigger", triggerTests},
		{"Retention", retentionTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.fn(t, open(t))
				})
			}
		})
	}
}

// test is one subtest of the suite, given a fresh store.
type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// t0 is the base of the suite's times; it has whole microseconds, so the
// store keeps it exactly.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// at returns t0 plus n seconds.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

func ptr[T any](v T) *T { return &v }

// newExecution returns an execution created at created, with n stages.
func newExecution(id, app, pipeline string, st status.Status, created time.Time, n int) *store.Execution {
	e := &store.Execution{
		ID:               id,
		Application:      app,
		PipelineName:     pipeline,
		PipelineConfigID: "cfg-" + app + "-" + pipeline,
		PipelineRevision: 1,
		Status:           st,
		Pipeline:         json.RawMessage(fmt.Sprintf(`{"application":%q,"name":%q,"stages":[]}`, app, pipeline)),
		Trigger:          json.RawMessage(`{"type":"manual","user":"ann","parameters":{"env":"dev"}}`),
		User:             "ann",
		CreatedAt:        created,
		UpdatedAt:        created,
	}
	for i := range n {
		s := &store.Stage{
			ID:          fmt.Sprintf("%s-s%d", id, i),
			ExecutionID: id,
			Seq:         i,
			RefID:       fmt.Sprint(i + 1),
			Name:        fmt.Sprintf("stage %d", i+1),
			Type:        "wait",
			Status:      status.NotStarted,
			Context:     json.RawMessage(`{"waitTime":30}`),
			UpdatedAt:   created,
		}
		if i > 0 {
			s.RequisiteStageRefIDs = []string{fmt.Sprint(i)}
		}
		e.Stages = append(e.Stages, s)
	}
	return e
}

func mustInsert(t testing.TB, s store.Querier, execs ...*store.Execution) {
	t.Helper()
	for _, e := range execs {
		if err := s.ExecutionInsert(t.Context(), e); err != nil {
			t.Fatalf("ExecutionInsert(%s): %v", e.ID, err)
		}
	}
}

func mustGet(t *testing.T, s store.Querier, id string) *store.Execution {
	t.Helper()
	e, err := s.ExecutionGet(t.Context(), id)
	if err != nil {
		t.Fatalf("ExecutionGet(%s): %v", id, err)
	}
	return e
}

func mustSave(t *testing.T, s store.Querier, params *store.PipelineSaveParams) *store.Pipeline {
	t.Helper()
	p, err := s.PipelineSave(t.Context(), params)
	if err != nil {
		t.Fatalf("PipelineSave(%s/%s): %v", params.Application, params.Name, err)
	}
	return p
}

// loaded returns e as ExecutionGet returns it: Stages non-nil, in Seq order.
func loaded(e *store.Execution) *store.Execution {
	c := *e
	c.Stages = slices.Clone(e.Stages)
	if c.Stages == nil {
		c.Stages = []*store.Stage{}
	}
	slices.SortFunc(c.Stages, func(a, b *store.Stage) int { return cmp.Compare(a.Seq, b.Seq) })
	return &c
}

// summary returns e as list results return it: without stages.
func summary(e *store.Execution) *store.Execution {
	c := *e
	c.Stages = nil
	return &c
}

// check reports got != want, showing both.
func check[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, show(got), show(want))
	}
}

func show(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

// checkErr reports err unless it matches target and its message mentions
// every one of mention.
func checkErr(t *testing.T, what string, err, target error, mention ...string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
		return
	}
	for _, m := range mention {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("%s: error %q does not mention %q", what, err, m)
		}
	}
}

func executionIDs(execs []*store.Execution) []string {
	ids := make([]string, len(execs))
	for i, e := range execs {
		ids[i] = e.ID
	}
	return ids
}
