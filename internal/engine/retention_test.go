package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/postgres"
)

// retentionRuns records the runs of the retention job from the engine's
// log: the tick of each, and what it deleted.
type retentionRuns struct {
	mu      sync.Mutex
	ticks   []string
	deleted int64
	batches int64
}

func (r *retentionRuns) Enabled(context.Context, slog.Level) bool { return true }
func (r *retentionRuns) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *retentionRuns) WithGroup(string) slog.Handler            { return r }
func (r *retentionRuns) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message != "retention" {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "tick":
			r.ticks = append(r.ticks, a.Value.String())
		case "executions":
			r.deleted += a.Value.Int64()
		case "batches":
			r.batches += a.Value.Int64()
		}
		return true
	})
	return nil
}

func (r *retentionRuns) snapshot() (ticks []string, deleted, batches int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ticks), r.deleted, r.batches
}

// oldExecution inserts an execution of app in status s, created ago and,
// if s is final, ended a minute later or endedAgo when given.
func oldExecution(t *testing.T, st store.Store, id, app string, s status.Status, ago time.Duration, endedAgo ...time.Duration) {
	t.Helper()
	created := time.Now().Add(-ago)
	e := &store.Execution{ID: id, Application: app, PipelineName: "p", PipelineConfigID: "cfg-" + app, PipelineRevision: 1,
		Status: s, Pipeline: json.RawMessage(`{}`), Trigger: json.RawMessage(`{"type":"manual"}`), User: "ann",
		CreatedAt: created, UpdatedAt: created,
		Stages: []*store.Stage{{ID: id + "-s", Seq: 0, RefID: "1", Name: "wait", Type: "wait", Status: s, UpdatedAt: created}}}
	if s.Complete() {
		end := created.Add(time.Minute)
		if len(endedAgo) > 0 {
			end = time.Now().Add(-endedAgo[0])
		}
		e.EndTime = &end
	}
	if err := st.ExecutionInsert(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	if err := st.EventInsert(t.Context(), &store.Event{ExecutionID: id, Type: "execution.status"}); err != nil {
		t.Fatal(err)
	}
}

func executionsOf(t *testing.T, st store.Store, app string) []string {
	t.Helper()
	page, err := st.ExecutionList(t.Context(), &store.ExecutionListParams{Application: app, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, e := range page.Executions {
		ids = append(ids, e.ID)
	}
	return ids
}

// TestRetention runs the retention job with a policy by age for all
// applications and one by count for one: aged-out executions go with
// their events, in batches; running ones and recent ones stay.
func TestRetention(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		day := 24 * time.Hour
		for i := range 5 {
			oldExecution(t, st, fmt.Sprintf("old-%d", i), "aged", status.Succeeded, 3*day+time.Duration(i)*time.Minute)
		}
		oldExecution(t, st, "old-running", "aged", status.Running, 4*day)
		oldExecution(t, st, "recent", "aged", status.Terminal, 2*time.Hour)
		// Ended within RetentionGrace: kept, though beyond the count.
		oldExecution(t, st, "few-just-ended", "few", status.Succeeded, 20*time.Hour, engine.RetentionGrace/2)
		for i := range 4 {
			oldExecution(t, st, fmt.Sprintf("few-%d", i), "few", status.Canceled, time.Duration(10-i)*time.Hour)
		}
		runs := &retentionRuns{}
		reg := prometheus.NewRegistry()
		sluicetest.StartEngine(t, engine.Config{Store: st, Stages: stage.NewRegistry(wait.Type{}), Logger: slog.New(runs), Metrics: reg,
			Retention: engine.Retention{
				Default:      engine.RetentionPolicy{MaxAge: 2 * day},
				Applications: map[string]engine.RetentionPolicy{"few": {Executions: 2}},
				Interval:     time.Second,
				BatchSize:    2,
			}})
		sluicetest.WaitFor(t, "the aged-out executions to be deleted", 0, func() bool {
			_, deleted, _ := runs.snapshot()
			return deleted >= 7
		})
		if got, want := executionsOf(t, st, "aged"), []string{"recent", "old-running"}; !slices.Equal(got, want) {
			t.Errorf("executions of aged = %q, want %q", got, want)
		}
		if got, want := executionsOf(t, st, "few"), []string{"few-3", "few-2", "few-just-ended"}; !slices.Equal(got, want) {
			t.Errorf("executions of few = %q, want %q", got, want)
		}
		evs, err := st.EventList(t.Context(), &store.EventListParams{ExecutionID: "old-0"})
		if err != nil || len(evs) != 0 {
			t.Errorf("events of a deleted execution: %d, %v; want none", len(evs), err)
		}
		_, deleted, batches := runs.snapshot()
		if deleted != 7 {
			t.Errorf("the job deleted %d executions, want 7", deleted)
		}
		// Five of aged in batches of two, two of few: at least 3 + 1.
		if batches < 4 {
			t.Errorf("the job deleted in %d batches, want at least 4 (batches of 2)", batches)
		}
		if got := counterValue(t, reg, "sluice_history_deleted_total", "aged events"); got != 5 {
			t.Errorf("sluice_history_deleted_total{application=aged,record=events} = %v, want 5", got)
		}
	})
}

// TestRetentionRunsOncePerTick starts two engines, two nodes of one
// cluster, on one Postgres database with a retention interval of a second:
// each tick's job runs on one of them only, and between them they delete
// what aged out.
func TestRetentionRunsOncePerTick(t *testing.T) {
	t.Parallel()
	url := sluicetest.PostgresSchemaURL(t)
	runs := &retentionRuns{}
	var first store.Store
	for _, node := range []string{"node-a", "node-b"} {
		st, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if first == nil {
			first = st
			for i := range 6 {
				oldExecution(t, st, fmt.Sprintf("old-%d", i), "aged", status.Succeeded, 72*time.Hour)
			}
		}
		sluicetest.StartEngine(t, engine.Config{Store: st, Stages: stage.NewRegistry(wait.Type{}), NodeID: node, Logger: slog.New(runs),
			Retention: engine.Retention{Default: engine.RetentionPolicy{MaxAge: 24 * time.Hour}, Interval: time.Second}})
	}
	sluicetest.WaitFor(t, "four ticks of retention", 0, func() bool {
		ticks, _, _ := runs.snapshot()
		return len(ticks) >= 4
	})
	ticks, deleted, _ := runs.snapshot()
	seen := map[string]bool{}
	for _, tick := range ticks {
		if seen[tick] {
			t.Errorf("the tick at %s ran twice (ticks run: %q)", tick, ticks)
		}
		seen[tick] = true
	}
	if deleted != 6 {
		t.Errorf("the nodes deleted %d executions between them, want 6", deleted)
	}
	if got := executionsOf(t, first, "aged"); len(got) != 0 {
		t.Errorf("executions left: %q, want none", got)
	}
}
