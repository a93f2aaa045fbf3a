package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// saveIndexed saves a pipeline and indexes its triggers in one
// transaction, as the API does.
func (b *bundle) saveIndexed(t testing.TB, doc string) *store.Pipeline {
	t.Helper()
	p := b.save(t, doc)
	err := b.store.InTx(context.Background(), func(tx store.Tx) error {
		return b.engine.SyncTriggersTx(context.Background(), tx, p.ID, p)
	})
	if err != nil {
		t.Fatalf("index triggers: %v", err)
	}
	return p
}

// cronTicks returns the ticks (Unix seconds) of the executions the cron
// trigger started, oldest first, each as many times as it started one.
func cronTicks(t testing.TB, st store.Store, app string) []int64 {
	t.Helper()
	page, err := st.ExecutionList(context.Background(), &store.ExecutionListParams{Application: app, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var ticks []int64
	for _, x := range page.Executions {
		var trig struct {
			Type           string `json:"type"`
			User           string `json:"user"`
			EventID        string `json:"eventId"`
			CronExpression string `json:"cronExpression"`
		}
		if err := json.Unmarshal(x.Trigger, &trig); err != nil {
			t.Fatal(err)
		}
		if trig.Type != "cron" || trig.User != "cron" || trig.CronExpression == "" || x.User != "cron" {
			t.Fatalf("execution %s: trigger %s, user %q; want a cron trigger with its cronExpression, by cron", x.ID, x.Trigger, x.User)
		}
		i := strings.LastIndexByte(trig.EventID, '/')
		var tick int64
		if _, err := fmt.Sscan(trig.EventID[i+1:], &tick); err != nil {
			t.Fatalf("eventId %q: %v", trig.EventID, err)
		}
		ticks = append(ticks, tick)
	}
	slices.Sort(ticks)
	return ticks
}

func consecutive(ticks []int64, every int64) bool {
	for i := 1; i < len(ticks); i++ {
		if ticks[i] != ticks[i-1]+every {
			return false
		}
	}
	return true
}

// checkEveryTickOnce fails unless ticks are consecutive ticks of a schedule
// every `every` seconds: no tick twice, none skipped.
func checkEveryTickOnce(t *testing.T, ticks []int64, every int64) {
	t.Helper()
	for i, tick := range ticks {
		if tick%every != 0 {
			t.Errorf("tick %d is not on the schedule (every %ds)", tick, every)
		}
		if i > 0 && tick != ticks[i-1]+every {
			t.Errorf("ticks %v: after %d comes %d, want %d (each tick exactly once)", ticks, ticks[i-1], tick, ticks[i-1]+every)
		}
	}
}

const cronDoc = `{"application": %q, "name": "nightly", "limitConcurrent": false,
  "triggers": [{"type": "cron", "id": "tick", "enabled": %t, "cronExpression": "0/2 * * * * ?", "timeZone": "UTC"}],
  "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]}`

// TestCronTriggerEveryTickOnce runs a cron trigger that ticks every two
// seconds, stops the engine across several ticks and starts another on
// the same database: every tick starts exactly one execution, the ones
// that passed while no engine ran included (they are within the misfire
// window).
func TestCronTriggerEveryTickOnce(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			st := store.Store(sqliteStore(t))
			if dialect == "postgres" {
				st = postgresStore(t)
			}
			b := setupWith(t, st)
			app := "cron" + dialect
			p := b.saveIndexed(t, fmt.Sprintf(cronDoc, app, true))
			sluicetest.WaitFor(t, "two cron executions", 0, func() bool { return len(cronTicks(t, st, app)) >= 2 })

			// A restart that spans ticks: none is lost, none doubled.
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := b.engine.Stop(stopCtx); err != nil {
				t.Fatal(err)
			}
			stoppedAt := time.Now()
			before := len(cronTicks(t, st, app))
			sluicetest.WaitFor(t, "ticks to pass while no engine runs", 0, func() bool { return time.Since(stoppedAt) > 5*time.Second })
			b2 := setupWith(t, st)
			sluicetest.WaitFor(t, "the ticks missed during the stop", 0, func() bool {
				// The ticks missed run one after the other while the
				// new engine's chain runs on: wait for both.
				ticks := cronTicks(t, st, app)
				return len(ticks) > 0 && ticks[len(ticks)-1] > stoppedAt.Unix()+6 && consecutive(ticks, 2)
			})

			// Disabling ends the chain.
			b2.saveIndexed(t, fmt.Sprintf(cronDoc, app, false))
			disabledAt := time.Now().Unix()
			ticks := cronTicks(t, st, app)
			if len(ticks) < before+3 {
				t.Errorf("got %d executions, %d before the stop; want the ticks during and after the stop too", len(ticks), before)
			}
			checkEveryTickOnce(t, ticks, 2)
			sluicetest.WaitFor(t, "a tick after disabling", 0, func() bool { return time.Now().Unix() > disabledAt+3 })
			final := cronTicks(t, st, app)
			if len(final) > 0 && final[len(final)-1] > disabledAt+1 {
				t.Errorf("a tick at %d started an execution after the trigger was disabled at %d", final[len(final)-1], disabledAt)
			}
			checkEveryTickOnce(t, final, 2)

			rows, err := st.TriggerList(context.Background(), &store.TriggerListParams{PipelineID: p.ID})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || rows[0].Enabled || rows[0].LastFiredAt == nil || rows[0].LastOutcome != engine.OutcomeStarted || rows[0].LastExecutionID == "" {
				t.Errorf("trigger index = %+v; want the disabled trigger with its last firing", rows)
			}
		})
	}
}

// TestTriggerDeliveryOnce: a delivery ID starts one execution per trigger;
// the replay starts none and says so.
func TestTriggerDeliveryOnce(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		b := setupWith(t, st)
		p := b.saveIndexed(t, `{"application": "hooks", "name": "deploy", "limitConcurrent": false,
  "triggers": [{"type": "webhook", "id": "ci", "enabled": true, "source": "ci"}],
  "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]}`)
		params := &engine.TriggerParams{Pipeline: p, Type: "webhook", User: "webhook:ci", TriggerKey: "ci", DeliveryID: "d-1",
			Parameters: map[string]any{"v": "1"}, Extra: map[string]any{"payload": map[string]any{"v": "1"}}}
		first, err := b.engine.Trigger(context.Background(), params)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.engine.Trigger(context.Background(), params); !errors.Is(err, engine.ErrReplayed) {
			t.Fatalf("replayed delivery: %v, want ErrReplayed", err)
		}
		page, err := st.ExecutionList(context.Background(), &store.ExecutionListParams{Application: "hooks"})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Executions) != 1 || page.Executions[0].ID != first.ID {
			t.Fatalf("executions %d, want only %s", len(page.Executions), first.ID)
		}
		b.waitStatus(t, first.ID, "SUCCEEDED")
		rows, err := st.TriggerList(context.Background(), &store.TriggerListParams{PipelineID: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].LastExecutionID != first.ID {
			t.Errorf("trigger index = %+v; want the last firing %s", rows, first.ID)
		}
	})
}

// TestCronTriggerMisfire: a tick that runs later than the misfire window
// (here, on an engine whose clock is eleven minutes ahead) starts nothing
// and is recorded as missed, with an audit entry.
func TestCronTriggerMisfire(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		// An engine on the real clock saves the pipeline and schedules
		// the tick, a few seconds ahead, and stops; one whose clock is
		// ahead runs the tick.
		a := setupWith(t, st)
		sec := time.Now().Add(5 * time.Second).Second()
		p := a.saveIndexed(t, fmt.Sprintf(`{"application": "late", "name": "nightly", "limitConcurrent": false,
  "triggers": [{"type": "cron", "id": "tick", "enabled": true, "cronExpression": "%d * * * * ?", "timeZone": "UTC"}],
  "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]}`, sec))
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.engine.Stop(stopCtx); err != nil {
			t.Fatal(err)
		}
		metrics := prometheus.NewRegistry()
		sluicetest.StartEngine(t, engine.Config{Store: st, Stages: stage.NewRegistry(wait.Type{}), Metrics: metrics,
			Clock: func() time.Time { return time.Now().Add(11 * time.Minute) }})
		var row *store.Trigger
		sluicetest.WaitFor(t, "a missed tick", 0, func() bool {
			rows, err := st.TriggerList(context.Background(), &store.TriggerListParams{PipelineID: p.ID})
			if err != nil {
				t.Fatal(err)
			}
			row = rows[0]
			return strings.HasPrefix(row.LastOutcome, engine.OutcomeMissed)
		})
		if row.LastExecutionID != "" {
			t.Errorf("a missed tick names execution %s", row.LastExecutionID)
		}
		page, err := st.ExecutionList(context.Background(), &store.ExecutionListParams{Application: "late"})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Executions) != 0 {
			t.Errorf("%d executions, want none from a missed tick", len(page.Executions))
		}
		audit, err := st.AuditList(context.Background(), &store.AuditListParams{Action: "trigger.fire", Application: "late"})
		if err != nil {
			t.Fatal(err)
		}
		if len(audit) == 0 || !strings.Contains(string(audit[0].Details), "missed") {
			t.Errorf("audit entries %+v, want the missed tick", audit)
		}
		if got := counterValue(t, metrics, "sluice_trigger_firings_total", "late missed cron"); got != 1 {
			t.Errorf("sluice_trigger_firings_total{application=late, outcome=missed, type=cron} = %v, want 1", got)
		}
	})
}

// TestStartIndexesTriggers: a pipeline whose triggers are not in the
// trigger index (saved by a Sluice before the index) has them indexed when
// an engine starts, as a save would, and its pipeline trigger fires.
func TestStartIndexesTriggers(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		b := &bundle{store: st}
		up := b.save(t, `{"application":"old","name":"up","stages":[{"refId":"1","type":"wait","waitTime":0}]}`)
		down := b.save(t, fmt.Sprintf(`{"application":"old","name":"down",
		  "triggers":[{"type":"pipeline","application":"old","pipeline":%q,"status":["successful"],"enabled":true}],
		  "stages":[{"refId":"1","type":"wait","waitTime":0}]}`, up.ID))
		if rows, err := st.TriggerList(t.Context(), &store.TriggerListParams{PipelineID: down.ID}); err != nil || len(rows) != 0 {
			t.Fatalf("before start: index %v, %v; want nothing indexed", rows, err)
		}
		b = setupWith(t, st)
		rows, err := st.TriggerList(t.Context(), &store.TriggerListParams{PipelineID: down.ID})
		if err != nil || len(rows) != 1 || rows[0].Type != "pipeline" || rows[0].Source != up.ID || !rows[0].Enabled {
			t.Fatalf("after start: index %+v, %v; want the pipeline trigger on %s", rows, err, up.ID)
		}
		b.waitStatus(t, b.trigger(t, up, nil).ID, status.Succeeded)
		sluicetest.WaitFor(t, "the downstream pipeline to start", 15*time.Second, func() bool {
			return len(b.executionsOf(t, "old", "down")) == 1
		})
	})
}

// TestDisabledPipelineIsNotTriggered: a disabled pipeline's triggers start
// nothing, as Echo leaves disabled pipelines out; a person still can.
func TestDisabledPipelineIsNotTriggered(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		b := setupWith(t, st)
		p := b.saveIndexed(t, `{"application": "hooks", "name": "off", "disabled": true,
  "triggers": [{"type": "webhook", "id": "ci", "enabled": true, "source": "ci"}],
  "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]}`)
		_, err := b.engine.Trigger(context.Background(), &engine.TriggerParams{Pipeline: p, Type: "webhook", User: "webhook:ci", TriggerKey: "ci"})
		var ve *pipeline.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), "disabled") {
			t.Fatalf("a trigger of a disabled pipeline: %v, want a refusal naming disabled", err)
		}
		if n := len(b.executionsOf(t, "hooks", "off")); n != 0 {
			t.Fatalf("%d executions of a disabled pipeline's trigger, want none", n)
		}
		b.waitStatus(t, b.trigger(t, p, nil).ID, status.Succeeded)
	})
}
