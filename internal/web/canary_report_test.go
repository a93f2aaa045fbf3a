package web_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// reportPipeline records a canary report as its first stage's output
// (evaluateVariables keeps a variable's object as it is), then waits for
// a judgment. The report's second interval failed on a critical metric,
// and one figure of each side is null.
const reportPipeline = `{
  "application": "hello", "name": "judged-canary",
  "stages": [
    {"refId": "1", "type": "evaluateVariables", "name": "Canary", "variables": [{"key": "canaryReport", "value": {
      "mode": "intervals", "configName": "lambda-errors-latency", "configRevision": 2,
      "control": {"function": "hello-api", "alias": "live", "version": "1", "selector": "$PREVIOUS"},
      "experiment": {"function": "hello-api", "alias": "live", "version": "2", "selector": "$LATEST"},
      "scoreThresholds": {"pass": 75, "marginal": 50}, "plannedIntervals": 4,
      "intervals": [
        {"index": 1, "start": "2026-01-02T15:00:00Z", "end": "2026-01-02T15:01:00Z", "score": 100, "classification": "Pass", "groups": [], "metrics": []},
        {"index": 2, "start": "2026-01-02T15:00:00Z", "end": "2026-01-02T15:02:00Z", "score": 0, "classification": "Fail",
         "reason": "critical metric error rate failed", "groups": [],
         "metrics": [
           {"name": "error rate", "groups": ["errors"], "classification": "High", "critical": true, "deviation": 12.5,
            "control": {"count": 40, "mean": 0.02, "median": 0, "min": 0, "max": 1, "q1": 0, "q3": 0},
            "experiment": {"count": 38, "mean": 0.25, "median": 0, "min": 0, "max": 1, "q1": 0, "q3": 0.5}},
           {"name": "latency p99", "groups": ["latency"], "classification": "Nodata", "deviation": null,
            "control": {"count": 0, "mean": null, "median": null, "min": null, "max": null, "q1": null, "q3": null},
            "experiment": {"count": 3, "mean": 12.5, "median": 12, "min": 10, "max": 16, "q1": 11, "q3": 14}}
         ]}
      ],
      "decision": {"result": "fail", "score": 0, "reason": "interval 2 of 4 scored 0, below the marginal threshold 50: error rate High", "at": "2026-01-02T15:02:00Z"}
    }}]},
    {"refId": "2", "type": "manualJudgment", "name": "Judge", "requisiteStageRefIds": ["1"], "judgmentInputs": [{"value": "promote"}, {"value": "rollback"}]}
  ]
}`

// TestCanaryReportPage: without JavaScript, the stage that holds a
// canary report shows the decision and why, the score chart with a point
// per judged interval, and the latest interval's metrics with "—" for the
// null figures; the judgment card after it recommends stopping and says
// plainly what it cannot show; the header counts the judgment waiting.
func TestCanaryReportPage(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	s.apply(t, "hello", "judged-canary", []byte(reportPipeline))
	exec, err := s.client.Trigger(context.Background(), "hello", "judged-canary", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	s.waitExecution(t, exec.ID, "the judgment waiting", stageIs("2", "RUNNING"))

	_, body := s.get(t, "/executions/"+exec.ID+"?stage=1")
	contains(t, body,
		`class="decision fail"`, "Failed with score 0",
		"interval 2 of 4 scored 0, below the marginal threshold 50: error rate High",
		"control hello-api version 1, experiment version 2, through alias live",
		"lambda-errors-latency (revision 2)",
		`<svg class="score-chart"`, `class="threshold pass"`, `class="threshold marginal"`,
		`data-metric="error rate" data-classification="High"`, `class="tag critical"`, "12.5×",
		`<svg class="box-plot"`, "control: no data",
	)
	if n := strings.Count(body, `<circle class="score `); n != 2 {
		t.Errorf("%d score points, want one per judged interval (2)", n)
	}
	if n := strings.Count(body, `<rect class="slot`); n != 4 {
		t.Errorf("%d interval slots, want the 4 planned", n)
	}
	// latency p99: control's mean and median are null, so is the deviation.
	row := regexp.MustCompile(`(?s)data-metric="latency p99".*?</tr>`).FindString(body)
	if !strings.Contains(row, "— / —") || !strings.Contains(row, `<td class="num">—</td>`) || !strings.Contains(row, "12.5 / 12") {
		t.Errorf("the latency row does not show — for null figures:\n%s", row)
	}

	// The judgment card, on the page as it opens (the running judgment).
	_, body = s.get(t, "/executions/"+exec.ID)
	contains(t, body, `id="judgment-2-evidence"`, `id="recommendation"`,
		"The analysis recommends stopping: failed with score 0.",
		"Function <strong class=\"mono\">hello-api</strong>, alias <strong class=\"mono\">live</strong>",
		"this server does not have it",
		`id="waiting-count" data-count="1"`, `href="/executions/`+exec.ID+`#judgments"`, "hello/judged-canary: Judge")
}
