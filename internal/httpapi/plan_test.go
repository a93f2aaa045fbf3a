package httpapi_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/httpapi"
)

const plannedPipeline = `{
  "application": "payments", "name": "release",
  "parameterConfig": [{"name": "ticket", "required": true}, {"name": "pause", "default": "2"}],
  "stages": [
    {"refId": "1", "type": "wait", "name": "Hold", "waitTime": "${parameters.pause}"},
    {"refId": "2", "requisiteStageRefIds": ["1"], "type": "manualJudgment", "name": "Approve",
     "judgmentInputs": [{"value": "ship"}]},
    {"refId": "3", "requisiteStageRefIds": ["2"], "type": "wait", "name": "After",
     "waitTime": "${#judgment('Approve') == 'ship' ? 1 : 2}"}
  ]
}`

// TestPlanRoute: a reader of the application may plan a pipeline (but not
// run it); parameters and defaults are evaluated, expressions that read the
// run are listed as known at run time, a missing required parameter is a
// 400 naming it, and planning creates no execution.
func TestPlanRoute(t *testing.T) {
	t.Parallel()
	c, b := setupEngine(t, func(cfg *httpapi.Config) {
		cfg.Policy = auth.NewPolicy(auth.Config{Applications: map[string]auth.Grants{
			"payments": {Read: []string{"auditors"}},
		}})
	})
	ctx := context.Background()
	apply(t, c, "payments", "release", plannedPipeline)
	secret, _, err := b.auth.CreateToken(ctx, auth.TokenParams{Name: "auditor", Roles: []string{"auditors"}})
	if err != nil {
		t.Fatal(err)
	}
	reader, err := apiclient.New(b.server.URL, apiclient.WithToken(secret))
	if err != nil {
		t.Fatal(err)
	}

	plan, err := reader.Plan(ctx, "payments", "release", apitype.PlanRequest{Parameters: map[string]any{"ticket": "T-1"}}, nil)
	if err != nil {
		t.Fatalf("a reader plans: %v", err)
	}
	if len(plan.Stages) != 3 || plan.Revision != 1 || plan.Parameters["pause"] != "2" {
		t.Fatalf("plan = %+v, want 3 stages of revision 1 with pause defaulting to 2", plan)
	}
	if s := plan.Stages[0]; s.Action != apitype.PlanNoAWSChange || s.Summary != "no AWS change: waits 2s" {
		t.Errorf("Hold = %+v, want no AWS change, waits 2s (the parameter's default)", s)
	}
	if s := plan.Stages[1]; s.Action != apitype.PlanNoAWSChange || s.Summary == "" {
		t.Errorf("Approve = %+v, want no AWS change with a summary", s)
	}
	after := plan.Stages[2]
	if len(after.RunTime) != 1 || after.RunTime[0].Field != "waitTime" || after.RunTime[0].Expression != "${#judgment('Approve') == 'ship' ? 1 : 2}" {
		t.Errorf("After's run-time fields = %+v, want waitTime with its #judgment expression", after.RunTime)
	}

	_, err = reader.Plan(ctx, "payments", "release", apitype.PlanRequest{}, nil)
	var apiErr *apiclient.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Code != apitype.CodeInvalidParameters ||
		len(apiErr.Details) != 1 || apiErr.Details[0].Path != "parameters.ticket" {
		t.Errorf("plan without the required parameter: %v, want 400 invalid_parameters at parameters.ticket", err)
	}
	if _, err := reader.Trigger(ctx, "payments", "release", apitype.TriggerRequest{Parameters: map[string]any{"ticket": "T-1"}}); !errors.As(err, &apiErr) || apiErr.Status != 403 {
		t.Errorf("a reader runs: %v, want 403", err)
	}
	if _, err := reader.Plan(ctx, "payments", "nope", apitype.PlanRequest{}, nil); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Errorf("plan of a missing pipeline: %v, want 404", err)
	}
	list, err := c.ListExecutions(ctx, apiclient.ListOptions{Application: "payments"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Executions) != 0 {
		t.Errorf("planning created %d executions, want none", len(list.Executions))
	}
}
