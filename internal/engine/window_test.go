package engine_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/stage/window"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// TestExecutionWindow runs stages with restrictExecutionDuringTimeWindow
// on an engine whose clock reads three seconds before a window opens, on
// SQLite and Postgres: the stage waits RUNNING, saying when the window
// opens, in a scheduled job that survives the engine stopping and starting
// again, and runs once the window is open; its timeout does not count the
// window's time; a window days away is skipped with SkipWait, which skips
// the window and not the wait stage's own wait.
func TestExecutionWindow(t *testing.T) {
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		testExecutionWindow(t, st)
	})
}

func testExecutionWindow(t *testing.T, st store.Store) {
	// Monday 2026-12-07 09:59:57 UTC, moving with real time.
	opens := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	offset := time.Until(opens.Add(-3 * time.Second))
	clock := func() time.Time { return time.Now().Add(offset) }
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p := newProbe()
	cfg := engine.Config{Store: st, Logger: logger, Clock: clock, EventPollInterval: 50 * time.Millisecond,
		Stages: stage.NewRegistry(wait.Type{}, window.Type{Location: time.UTC}, p)}
	e, err := engine.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := &bundle{engine: e, store: st, probe: p}

	pl := b.save(t, `{"application":"app","name":"windowed","stages":[
		{"refId":"1","type":"probe","name":"deploy","stageTimeoutMs":1000,
		 "restrictExecutionDuringTimeWindow":true,
		 "restrictedExecutionWindow":{"whitelist":[{"startHour":10,"startMin":0,"endHour":11,"endMin":0}],"days":[2]}},
		{"refId":"2","type":"probe","name":"after","requisiteStageRefIds":["1"]}]}`)
	id := b.trigger(t, pl, nil).ID
	exec := b.waitFor(t, id, "the window's wait", func(e *store.Execution) bool {
		return contextOf(t, stageOf(e, "1"))["progress"] != nil || e.Status.Complete()
	})
	ctx := contextOf(t, stageOf(exec, "1"))
	msg, _ := ctx["progress"].(string)
	if stageOf(exec, "1").Status != status.Running || !strings.Contains(msg, "opens Mon 2026-12-07 10:00 UTC") || !strings.Contains(msg, "10:00–11:00 UTC on Mon") {
		t.Fatalf("stage 1 is %s saying %q; want RUNNING, saying the window opens Mon 2026-12-07 10:00 UTC", stageOf(exec, "1").Status, msg)
	}
	if got, _ := ctx["scheduledTime"].(float64); int64(got) != opens.UnixMilli() {
		t.Errorf("scheduledTime = %v, want %d", ctx["scheduledTime"], opens.UnixMilli())
	}
	if tasks := tasksOf(t, stageOf(exec, "1")); len(tasks) != 2 || tasks[0].Name != window.SuspendTask || tasks[0].Status != status.Running || tasks[1].Name != "probe" {
		t.Errorf("tasks = %+v; want the window's task running, then the probe's", tasks)
	}

	// The engine stops during the wait and another starts: the scheduled
	// job runs the stage when the window opens.
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := e.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	cancel()
	b.engine = startEngine(t, cfg)
	exec = b.waitStatus(t, id, status.Succeeded)
	wantStatuses(t, exec, status.Succeeded, map[string]status.Status{"1": status.Succeeded, "2": status.Succeeded})
	tasks := tasksOf(t, stageOf(exec, "1"))
	if len(tasks) != 2 || tasks[0].EndTime < opens.UnixMilli() {
		t.Errorf("the window's task ended at %d, before the window opened at %d", tasks[0].EndTime, opens.UnixMilli())
	}
	if n := b.probe.finished[stageOf(exec, "1").ID]; n != 1 {
		t.Errorf("stage 1 ran its task %d times, want 1", n)
	}

	// A window days away (Tuesdays, kept to with strictDays: Orca's
	// computation would open it on Wednesday) is skipped by hand; the wait
	// stage's own wait is not.
	pl = b.save(t, `{"application":"app","name":"skipped","stages":[
		{"refId":"1","type":"wait","name":"Wait","waitTime":3600,
		 "restrictExecutionDuringTimeWindow":true,"skipWindowText":"ask #releases first",
		 "restrictedExecutionWindow":{"whitelist":[{"startHour":10,"startMin":0,"endHour":11,"endMin":0}],"days":[3],"strictDays":true}}]}`)
	id = b.trigger(t, pl, nil).ID
	exec = b.waitFor(t, id, "the window's wait", func(e *store.Execution) bool {
		return contextOf(t, stageOf(e, "1"))["progress"] != nil
	})
	if msg, _ := contextOf(t, stageOf(exec, "1"))["progress"].(string); !strings.Contains(msg, "opens Tue 2026-12-08 10:00 UTC") || !strings.Contains(msg, "ask #releases first") {
		t.Errorf("progress = %q; want the window opening Tue 2026-12-08 10:00 UTC and the skipWindowText", msg)
	}
	if err := b.engine.SkipWait(context.Background(), id, "Wait", "ann"); err != nil {
		t.Fatal(err)
	}
	exec = b.waitFor(t, id, "the wait stage's own wait", func(e *store.Execution) bool {
		tasks := tasksOf(t, stageOf(e, "1"))
		return len(tasks) == 2 && tasks[1].Status == status.Running || e.Status.Complete()
	})
	ctx = contextOf(t, stageOf(exec, "1"))
	if ctx["skipExecutionWindow"] != true || ctx["skipRemainingWait"] != nil || stageOf(exec, "1").Status != status.Running {
		t.Errorf("after skipping the window: stage %s, skipExecutionWindow %v, skipRemainingWait %v; want the wait running",
			stageOf(exec, "1").Status, ctx["skipExecutionWindow"], ctx["skipRemainingWait"])
	}
	if err := b.engine.SkipWait(context.Background(), id, "Wait", "ann"); err != nil {
		t.Fatal(err)
	}
	b.waitStatus(t, id, status.Succeeded)
}

// startEngine starts an engine that stops when the test ends.
func startEngine(t *testing.T, cfg engine.Config) *engine.Engine {
	t.Helper()
	e, err := engine.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("stop engine: %v", err)
		}
	})
	return e
}

type taskRow struct {
	Name    string        `json:"name"`
	Status  status.Status `json:"status"`
	Window  bool          `json:"window"`
	EndTime int64         `json:"endTime"`
}

func tasksOf(t *testing.T, s *store.Stage) []taskRow {
	t.Helper()
	var book struct {
		Tasks []taskRow `json:"tasks"`
	}
	if err := json.Unmarshal(s.Tasks, &book); err != nil {
		t.Fatal(err)
	}
	return book.Tasks
}
