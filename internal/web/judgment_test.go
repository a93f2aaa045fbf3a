package web

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/status"
)

func ms(v int64) *int64 { return &v }

func stageWith(id, typ string, st status.Status, start int64, context, outputs string) apitype.Stage {
	s := apitype.Stage{ID: id, RefID: id, Name: id, Type: typ, Status: st, StartTime: ms(start)}
	if context != "" {
		s.Context = json.RawMessage(context)
	}
	if outputs != "" {
		s.Outputs = json.RawMessage(outputs)
	}
	return s
}

const passReport = `{"mode": "intervals", "configName": "c", "scoreThresholds": {"pass": 75, "marginal": 50}, "plannedIntervals": 2,
  "control": {"account": "prod", "function": "api", "alias": "live", "version": "3"},
  "experiment": {"account": "prod", "function": "api", "alias": "live", "version": "4"},
  "intervals": [{"index": 1, "score": 90, "classification": "Pass", "groups": [], "metrics": []}],
  "decision": {"result": "pass", "score": 90, "reason": "final canary score 90 reached the pass threshold 75", "at": "2026-01-02T15:00:00Z"}}`

// TestFindTarget: the judgment's evidence is about the function and alias
// of the latest stage before it that names them — a canary report's
// experiment, or a Route stage's deployment:aliasDeployed with its
// functionName — and never of a stage that started after it.
func TestFindTarget(t *testing.T) {
	t.Parallel()
	judge := stageWith("judge", "manualJudgment", status.Running, 500, "", "")
	for _, tt := range []struct {
		name   string
		stages []apitype.Stage
		want   releaseTarget
		found  bool
	}{
		{"a route stage", []apitype.Stage{
			stageWith("route", "Aws.LambdaTrafficRoutingStage", status.Succeeded, 100, `{"account": "staging", "functionName": "api"}`,
				`{"deployment:aliasDeployed": "live", "functionName": "hello-api"}`),
		}, releaseTarget{account: "staging", function: "hello-api", alias: "live", source: "route"}, true},
		{"the region the route named", []apitype.Stage{
			stageWith("route", "Aws.LambdaTrafficRoutingStage", status.Succeeded, 100, `{"account": "prod", "region": "eu-west-1", "functionName": "api"}`,
				`{"deployment:aliasDeployed": "live", "functionName": "hello-api"}`),
		}, releaseTarget{account: "prod", region: "eu-west-1", function: "hello-api", alias: "live", source: "route"}, true},
		{"a canary analysis's region", []apitype.Stage{
			stageWith("canary", "kayentaCanary", status.Succeeded, 200, `{"account": "prod", "region": "eu-west-1"}`, `{"canaryReport": `+passReport+`}`),
		}, releaseTarget{account: "prod", region: "eu-west-1", function: "api", alias: "live", source: "canary"}, true},
		{"the route's context when its outputs lack the name", []apitype.Stage{
			stageWith("route", "Aws.LambdaTrafficRoutingStage", status.Succeeded, 100, `{"functionName": "api"}`, `{"deployment:aliasDeployed": "beta"}`),
		}, releaseTarget{function: "api", alias: "beta", source: "route"}, true},
		{"the latest wins", []apitype.Stage{
			stageWith("route", "Aws.LambdaTrafficRoutingStage", status.Succeeded, 100, `{}`, `{"deployment:aliasDeployed": "live", "functionName": "old"}`),
			stageWith("canary", "kayentaCanary", status.Succeeded, 200, `{}`, `{"canaryReport": `+passReport+`}`),
		}, releaseTarget{account: "prod", function: "api", alias: "live", source: "canary"}, true},
		{"not a stage after the judgment", []apitype.Stage{
			stageWith("later", "Aws.LambdaTrafficRoutingStage", status.Running, 900, `{}`, `{"deployment:aliasDeployed": "live", "functionName": "x"}`),
		}, releaseTarget{}, false},
		{"nothing names a function", []apitype.Stage{
			stageWith("wait", "wait", status.Succeeded, 100, `{"waitTime": 1}`, `{}`),
		}, releaseTarget{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := &apitype.Execution{ID: "e1", Stages: append(tt.stages, judge)}
			got, found := findTarget(e, &e.Stages[len(e.Stages)-1])
			if found != tt.found || got != tt.want {
				t.Errorf("findTarget = %+v, %v; want %+v, %v", got, found, tt.want, tt.found)
			}
		})
	}
}

// TestRecommendation: the latest analysis before the judgment recommends;
// a pass says continue, a fail stop, one still running says it has no
// recommendation yet; a rollout's analysed steps count too.
func TestRecommendation(t *testing.T) {
	t.Parallel()
	failReport := strings.Replace(strings.Replace(passReport, `"result": "pass"`, `"result": "fail"`, 1), `"score": 90, "reason"`, `"score": 10, "reason"`, 1)
	running := strings.Replace(passReport, `"decision"`, `"notDecided"`, 1)
	judge := stageWith("judge", "manualJudgment", status.Running, 500, "", "")
	for _, tt := range []struct {
		name      string
		stage     apitype.Stage
		wantState string
		wantText  string
	}{
		{"pass", stageWith("c", "kayentaCanary", status.Succeeded, 100, "", `{"canaryReport": `+passReport+`}`), "pass", "recommends continuing: passed with score 90"},
		{"fail", stageWith("c", "kayentaCanary", status.Terminal, 100, "", `{"canaryReport": `+failReport+`}`), "fail", "recommends stopping: failed with score 10"},
		{"running", stageWith("c", "kayentaCanary", status.Running, 100, "", `{"canaryReport": `+running+`}`), "running", "Analysing (1 of 2 intervals judged); no recommendation yet"},
		{"rollout step", stageWith("r", "route", status.Succeeded, 100, "", `{"rollout": {"history": [{"weight": 10}, {"weight": 50, "analysis": `+passReport+`}]}}`), "pass", "Passed with score 90 (Step 2 analysis (50%))"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := &apitype.Execution{ID: "e1", Stages: []apitype.Stage{tt.stage, judge}}
			r := recommendation(e, &e.Stages[1])
			if r == nil {
				t.Fatal("no recommendation")
			}
			if r.State != tt.wantState || !strings.Contains(r.Text, tt.wantText) {
				t.Errorf("recommendation %s %q; want %s, saying %q", r.State, r.Text, tt.wantState, tt.wantText)
			}
			if r.StageURL != "/executions/e1?stage="+tt.stage.ID+"#stage" {
				t.Errorf("links to %q", r.StageURL)
			}
		})
	}
	e := &apitype.Execution{ID: "e1", Stages: []apitype.Stage{judge}}
	if r := recommendation(e, &e.Stages[0]); r != nil {
		t.Errorf("without an analysis: %+v, want none", r)
	}
}
