package lambda

// A $PROGRESSIVE Route stage run by the real engine, on SQLite and on
// Postgres (when SLUICE_TEST_POSTGRES_DSN is set), for each way its gates
// can end: the analysis passes, the analysis fails, an alarm goes into
// ALARM (CloudWatch through moto_server), a person aborts. The engine's
// durable jobs carry the pauses and the restore, as in `sluice serve`.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/locallambda/control"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/judgment"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// engineRun is an engine over a store with the Lambda stage types of opts.
type engineRun struct {
	e  *engine.Engine
	st store.Store
}

// openStore opens a fresh store of the dialect; the Postgres one skips
// without SLUICE_TEST_POSTGRES_DSN.
func openStore(t *testing.T, dialect string) store.Store {
	t.Helper()
	if dialect == "postgres" {
		return sluicetest.OpenPostgres(t)
	}
	return sluicetest.OpenSQLite(t)
}

func startEngineRun(t *testing.T, st store.Store, opts Options) *engineRun {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := sluicetest.StartEngine(t, engine.Config{Store: st, Stages: stage.NewRegistry(append(Types(opts), wait.Type{}, judgment.Type{})...), Logger: log,
		EventPollInterval: 50 * time.Millisecond})
	return &engineRun{e: e, st: st}
}

// trigger saves a pipeline of one Route stage, refId "1", with fields,
// and starts it.
func (r *engineRun) trigger(t *testing.T, fields map[string]any) string {
	t.Helper()
	return r.triggerStage(t, "progressive", withFields(map[string]any{"type": RouteTypeName, "name": "Shift"}, fields))
}

// waitFor waits until cond holds for the execution, woken by its events
// and, for what no event announces (a task's retry saving the stage's
// context), by a poll.
func (r *engineRun) waitFor(t *testing.T, id, what string, cond func(*store.Execution) bool) *store.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events := r.e.Subscribe(ctx, id, 0).C
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		exec, err := r.st.ExecutionGet(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(exec) {
			return exec
		}
		select {
		case <-events:
		case <-poll.C:
		case <-ctx.Done():
			t.Fatalf("execution %s: timed out waiting for %s; it is %s", id, what, exec.Status)
		}
	}
}

func (r *engineRun) waitDone(t *testing.T, id string) *store.Execution {
	t.Helper()
	return r.waitFor(t, id, "the end", func(e *store.Execution) bool { return e.Status.Complete() })
}

// waitApplied waits until the stage has applied its first step.
func (r *engineRun) waitApplied(t *testing.T, id string) {
	t.Helper()
	r.waitFor(t, id, "step 1 on the alias", func(e *store.Execution) bool {
		ro, ok := shiftRollout(t, e)
		return e.Status.Complete() || ok && len(ro.History) > 0
	})
}

// shiftRollout is stage 1's rollout, from its outputs, or from its
// context while it runs.
func shiftRollout(t *testing.T, e *store.Execution) (rollout, bool) {
	t.Helper()
	for _, s := range e.Stages {
		if s.RefID != "1" {
			continue
		}
		doc := s.Outputs
		if !e.Status.Complete() {
			doc = s.Context
		}
		if len(doc) == 0 {
			return rollout{}, false
		}
		var out map[string]any
		if err := json.Unmarshal(doc, &out); err != nil {
			t.Fatalf("stage 1 %s: %v", doc, err)
		}
		if out[rolloutKey] == nil {
			return rollout{}, false
		}
		return rolloutOf(t, out), true
	}
	return rollout{}, false
}

// wantEnd checks how the execution and its stage ended, the rollout's
// status, and that the stage's record gives the reason.
func wantEnd(t *testing.T, e *store.Execution, want status.Status, rolloutStatus, reason string) rollout {
	t.Helper()
	if e.Status != want {
		t.Errorf("execution ended %s, want %s", e.Status, want)
	}
	var s *store.Stage
	for _, st := range e.Stages {
		if st.RefID == "1" {
			s = st
		}
	}
	if s == nil {
		t.Fatalf("execution %s has no stage 1", e.ID)
	}
	if s.Status != want {
		t.Errorf("stage Shift ended %s, want %s: %s", s.Status, want, s.Context)
	}
	ro, ok := shiftRollout(t, e)
	if !ok {
		t.Fatalf("stage Shift has no rollout in its outputs: %s", s.Outputs)
	}
	if ro.Status != rolloutStatus {
		t.Errorf("rollout.status = %q, want %q", ro.Status, rolloutStatus)
	}
	if !strings.Contains(ro.Reason, reason) {
		t.Errorf("rollout.reason = %q, want it to contain %q", ro.Reason, reason)
	}
	if reason != "" && !strings.Contains(string(s.Context), reason) {
		t.Errorf("the stage's context does not give the reason %q: %s", reason, s.Context)
	}
	return ro
}

// wantRoutes checks that alias live routes only version v.
func wantRoutes(t *testing.T, fn *fnFixture, v string) {
	t.Helper()
	a := fn.alias("live")
	if a == nil {
		t.Fatal("alias live does not exist")
	}
	if got := aws.ToString(a.FunctionVersion); got != v || a.RoutingConfig != nil && len(a.RoutingConfig.AdditionalVersionWeights) > 0 {
		t.Errorf("alias live routes %s %v; want only version %s", got, a.RoutingConfig, v)
	}
}

// stageChanges is what alias live of the canaryEnv's function routed
// after each change the stage made, from the local Lambda's record of
// every change: progressiveEnv made the first two (CreateAlias with half
// the traffic on version 2, then all of it on version 1).
func stageChanges(t *testing.T, c *canaryEnv) []string {
	t.Helper()
	resp, err := http.Get(c.env.srv.URL() + "/_locallambda/functions/" + c.fn.name + "/aliases/live/history")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Changes []control.AliasChange }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("alias history: %s, %v", resp.Status, err)
	}
	if len(body.Changes) < 2 {
		t.Fatalf("alias live has %d changes; progressiveEnv made 2", len(body.Changes))
	}
	var out []string
	for _, ch := range body.Changes[2:] {
		r := ch.FunctionVersion
		for v, w := range ch.Weights {
			r += fmt.Sprintf("+%s@%v", v, w)
		}
		out = append(out, r)
	}
	return out
}

func wantChanges(t *testing.T, c *canaryEnv, want ...string) {
	t.Helper()
	if got := stageChanges(t, c); !slices.Equal(got, want) {
		t.Errorf("the stage changed alias live to %v; want exactly %v", got, want)
	}
}

// TestProgressiveEngineGates runs a $PROGRESSIVE shift through the engine
// on each store, for each outcome of its local gates.
// gateRun is a progressiveEnv whose v2 fails failureRate of its requests,
// and an engine on a fresh store of dialect bound to it.
func gateRun(t *testing.T, dialect, failureRate string) (*canaryEnv, *engineRun) {
	t.Helper()
	st := openStore(t, dialect)
	c, _ := progressiveEnv(t, failureRate)
	return c, startEngineRun(t, st, Options{Accounts: c.env.accounts,
		Analysis: Analysis{Configs: exampleConfigs(t), LocalLambdaURL: c.env.srv.URL()}})
}

func TestProgressiveEngineGates(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			t.Run("analysis passes", func(t *testing.T) {
				t.Parallel()
				c, r := gateRun(t, dialect, "0")
				stop := c.traffic(t)
				defer stop()
				id := r.trigger(t, progressiveStage(nil))
				e := r.waitDone(t, id)
				ro := wantEnd(t, e, status.Succeeded, rolloutPromoted, "")
				wantRoutes(t, c.fn, c.v2)
				wantChanges(t, c, "1+2@0.2", "1+2@0.6", "2")
				if len(ro.History) != 3 {
					t.Fatalf("rollout ran %d steps, want 3 (20, 60, 100): %+v", len(ro.History), ro.History)
				}
				if a := ro.History[0].Analysis; a == nil || a.Decision == nil || a.Decision.Result != "pass" {
					t.Errorf("step 1's analysis: %+v; want a pass", a)
				}
			})
			t.Run("analysis fails", func(t *testing.T) {
				t.Parallel()
				c, r := gateRun(t, dialect, "1")
				stop := c.traffic(t)
				defer stop()
				id := r.trigger(t, progressiveStage(nil))
				e := r.waitDone(t, id)
				ro := wantEnd(t, e, status.Terminal, rolloutRestored, "canary analysis of step 1 (20%) failed")
				wantRoutes(t, c.fn, c.v1)
				wantChanges(t, c, "1+2@0.2", "1")
				if len(ro.History) != 1 || ro.History[0].Outcome != "failed" {
					t.Errorf("rollout history %+v; want step 1 failed and no other step", ro.History)
				}
				if a := ro.History[0].Analysis; a == nil || a.Decision == nil || a.Decision.Result != "fail" {
					t.Errorf("step 1's analysis: %+v; want a fail", a)
				}
			})
			t.Run("abort", func(t *testing.T) {
				t.Parallel()
				c, r := gateRun(t, dialect, "0")
				// A long first step: only the abort ends it.
				id := r.trigger(t, map[string]any{"functionName": "hello", "aliasName": "live", "deploymentStrategy": "$PROGRESSIVE",
					"progressive": map[string]any{"steps": []any{map[string]any{"weight": 20, "pause": 600}}}})
				r.waitApplied(t, id)
				if a := c.fn.alias("live"); a.RoutingConfig == nil || a.RoutingConfig.AdditionalVersionWeights[c.v2] != 0.2 {
					t.Fatalf("step 1 applied, and alias live routes %s %v; want 20%% to version %s", aws.ToString(a.FunctionVersion), a.RoutingConfig, c.v2)
				}
				if err := r.e.Steer(context.Background(), id, "1", CommandAbort, "alice"); err != nil {
					t.Fatalf("abort: %v", err)
				}
				e := r.waitDone(t, id)
				ro := wantEnd(t, e, status.Terminal, rolloutRestored, "aborted by alice")
				wantRoutes(t, c.fn, c.v1)
				wantChanges(t, c, "1+2@0.2", "1")
				if len(ro.History) != 1 || ro.History[0].Outcome != "failed" {
					t.Errorf("rollout history %+v; want step 1 stopped and no other step", ro.History)
				}
			})
			t.Run("cancel", func(t *testing.T) {
				t.Parallel()
				c, r := gateRun(t, dialect, "0")
				id := r.trigger(t, map[string]any{"functionName": "hello", "aliasName": "live", "deploymentStrategy": "$PROGRESSIVE",
					"progressive": map[string]any{"steps": []any{map[string]any{"weight": 20, "pause": 600}}}})
				r.waitApplied(t, id)
				if err := r.e.Cancel(context.Background(), id, "alice", "changed my mind"); err != nil {
					t.Fatalf("cancel: %v", err)
				}
				e := r.waitDone(t, id)
				if e.Status != status.Canceled {
					t.Errorf("execution %s; want CANCELED", e.Status)
				}
				// Canceled, and the split it made is undone: the stage
				// leaves nothing applied behind.
				wantRoutes(t, c.fn, c.v1)
				wantChanges(t, c, "1+2@0.2", "1")
			})
		})
	}
}

// TestProgressiveEngineAlarm runs a $PROGRESSIVE shift of a function in
// moto through the engine on each store; its CloudWatch alarm goes into
// ALARM while step 1 holds, and the stage restores the alias. Not
// parallel: newMotoEnv sets the AWS environment variables.
func TestProgressiveEngineAlarm(t *testing.T) {
	if testing.Short() {
		t.Skip("starts moto_server")
	}
	env := newMotoEnv(t)
	ctx := context.Background()
	for i, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			st := openStore(t, dialect)
			short := fmt.Sprintf("orders%d", i)
			fn := &fnFixture{t: t, env: env, short: short, name: fixtureApp + "-" + short}
			if _, err := env.c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(fn.name), Role: aws.String(motoRole),
				Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: helloZip(t)}}); err != nil {
				t.Fatalf("create %s in moto: %v", fn.name, err)
			}
			v1 := fn.publish(map[string]string{"HELLO_VERSION": "v1"}, "")
			v2 := fn.publish(map[string]string{"HELLO_VERSION": "v2"}, "")
			fn.setAlias("live", v1, map[string]float64{})
			alarm := fn.name + "-errors"
			if _, err := env.acct.CloudWatch.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
				AlarmName: aws.String(alarm), Namespace: aws.String("AWS/Lambda"), MetricName: aws.String("Errors"),
				Dimensions: []cwtypes.Dimension{{Name: aws.String("FunctionName"), Value: aws.String(fn.name)}},
				Statistic:  cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1),
				ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
			}); err != nil {
				t.Fatalf("PutMetricAlarm %s: %v", alarm, err)
			}

			r := startEngineRun(t, st, Options{Accounts: env.accounts})
			id := r.trigger(t, map[string]any{"account": "moto", "functionName": short, "aliasName": "live",
				"deploymentStrategy": "$PROGRESSIVE", "progressive": map[string]any{
					"steps":  []any{map[string]any{"weight": 10, "pause": 600}, map[string]any{"weight": 50, "pause": 600}},
					"alarms": []any{alarm}, "checkIntervalSeconds": 0.2}})
			r.waitApplied(t, id)
			if a := fn.alias("live"); aws.ToString(a.FunctionVersion) != v1 || a.RoutingConfig == nil || a.RoutingConfig.AdditionalVersionWeights[v2] != 0.1 {
				t.Fatalf("step 1 applied, and alias live routes %s %v; want 10%% to version %s", aws.ToString(a.FunctionVersion), a.RoutingConfig, v2)
			}
			if _, err := env.acct.CloudWatch.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(alarm),
				StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("errors above 1")}); err != nil {
				t.Fatalf("SetAlarmState %s: %v", alarm, err)
			}
			e := r.waitDone(t, id)
			ro := wantEnd(t, e, status.Terminal, rolloutRestored, "CloudWatch alarm "+alarm+" (errors above 1) in ALARM at step 1 (10%)")
			wantRoutes(t, fn, v1)
			if len(ro.History) != 1 || len(ro.History[0].Alarms) != 1 || ro.History[0].Alarms[0].Name != alarm {
				t.Errorf("rollout history %+v; want step 1 stopped by alarm %s", ro.History, alarm)
			}
		})
	}
}
