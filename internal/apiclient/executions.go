package apiclient

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/status"
)

// Trigger starts an execution of the newest revision of app/name.
func (c *Client) Trigger(ctx context.Context, app, name string, req apitype.TriggerRequest) (*apitype.Execution, error) {
	r, err := jsonRequest(http.MethodPost, c.endpoint(nil, "pipelines", app, name, "executions"), req)
	if err != nil {
		return nil, err
	}
	var e apitype.Execution
	if err := c.do(ctx, "trigger pipeline", r, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// GetExecution returns an execution with its stages.
func (c *Client) GetExecution(ctx context.Context, id string) (*apitype.Execution, error) {
	var e apitype.Execution
	if err := c.do(ctx, "get execution", request{method: http.MethodGet, url: c.endpoint(nil, "executions", id)}, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// ListOptions filter and paginate ListExecutions. Zero values mean no
// filter; Limit 0 means the server's default (50).
type ListOptions struct {
	Application string
	Pipeline    string
	Statuses    []status.Status
	// AwaitingJudgment lists only running executions with a manual
	// judgment stage waiting for a person.
	AwaitingJudgment bool
	// Search keeps executions that match every word: key=value a trigger
	// parameter, any other word a part of the trigger or the start of
	// the id (the API's q).
	Search string
	Cursor string
	Limit  int
}

// ListExecutions returns one page of executions, newest first.
func (c *Client) ListExecutions(ctx context.Context, opts ListOptions) (*apitype.ExecutionList, error) {
	q := url.Values{}
	if opts.Application != "" {
		q.Set("application", opts.Application)
	}
	if opts.Pipeline != "" {
		q.Set("pipeline", opts.Pipeline)
	}
	if len(opts.Statuses) > 0 {
		names := make([]string, len(opts.Statuses))
		for i, s := range opts.Statuses {
			names[i] = string(s)
		}
		q.Set("status", strings.Join(names, ","))
	}
	if opts.AwaitingJudgment {
		q.Set("awaiting", "judgment")
	}
	if opts.Search != "" {
		q.Set("q", opts.Search)
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	var out apitype.ExecutionList
	if err := c.do(ctx, "list executions", request{method: http.MethodGet, url: c.endpoint(q, "executions")}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// executionOp posts body to an execution operation and returns the
// execution as it is afterwards.
func (c *Client) executionOp(ctx context.Context, op string, body any, segs ...string) (*apitype.Execution, error) {
	r, err := jsonRequest(http.MethodPost, c.endpoint(nil, segs...), body)
	if err != nil {
		return nil, err
	}
	var e apitype.Execution
	if err := c.do(ctx, op, r, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Cancel cancels an execution.
func (c *Client) Cancel(ctx context.Context, id, reason string) (*apitype.Execution, error) {
	return c.executionOp(ctx, "cancel execution", apitype.CancelRequest{Reason: reason}, "executions", id, "cancel")
}

// Pause pauses a running execution.
func (c *Client) Pause(ctx context.Context, id string) (*apitype.Execution, error) {
	return c.executionOp(ctx, "pause execution", struct{}{}, "executions", id, "pause")
}

// Resume resumes a paused execution.
func (c *Client) Resume(ctx context.Context, id string) (*apitype.Execution, error) {
	return c.executionOp(ctx, "resume execution", struct{}{}, "executions", id, "resume")
}

// Rollback runs the compensations a finished execution's stages recorded
// (their "rollback:stage" outputs), newest first, as new stages.
func (c *Client) Rollback(ctx context.Context, id string) (*apitype.Execution, error) {
	return c.executionOp(ctx, "roll back execution", struct{}{}, "executions", id, "rollback")
}

// RestartStage restarts a completed stage (named by id, refId or name) and
// everything downstream of it.
func (c *Client) RestartStage(ctx context.Context, id, stage string) (*apitype.Execution, error) {
	return c.executionOp(ctx, "restart stage", struct{}{}, "executions", id, "stages", stage, "restart")
}

// Judge judges a waiting manualJudgment stage (named by id, refId or name).
func (c *Client) Judge(ctx context.Context, id, stage string, j apitype.JudgmentRequest) (*apitype.Execution, error) {
	return c.executionOp(ctx, "judge stage", j, "executions", id, "stages", stage, "judgment")
}

// SkipWait skips the rest of a running wait stage.
func (c *Client) SkipWait(ctx context.Context, id, stage string) (*apitype.Execution, error) {
	return c.executionOp(ctx, "skip wait", struct{}{}, "executions", id, "stages", stage, "skip-wait")
}

// StageCommand gives a command to a running stage (named by id, refId or
// name) that takes commands: pause, resume, promote or abort for a
// $PROGRESSIVE route. The stage's Commands say which it takes now.
func (c *Client) StageCommand(ctx context.Context, id, stage, command string) (*apitype.Execution, error) {
	return c.executionOp(ctx, command+" stage", apitype.StageCommandRequest{Command: command}, "executions", id, "stages", stage, "commands")
}

// Evaluate evaluates an expression against an execution.
func (c *Client) Evaluate(ctx context.Context, id string, req apitype.EvaluateRequest) (any, error) {
	r, err := jsonRequest(http.MethodPost, c.endpoint(nil, "executions", id, "evaluate"), req)
	if err != nil {
		return nil, err
	}
	var out apitype.EvaluateResult
	if err := c.do(ctx, "evaluate expression", r, &out); err != nil {
		return nil, err
	}
	return out.Result, nil
}
