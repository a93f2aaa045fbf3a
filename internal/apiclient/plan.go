package apiclient

import (
	"context"
	"net/http"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// Plan asks what a run of the pipeline app/name would change, with the
// given trigger parameters; the server changes nothing.
func (c *Client) Plan(ctx context.Context, app, name string, req apitype.PlanRequest) (*apitype.Plan, error) {
	r, err := jsonRequest(http.MethodPost, c.endpoint(nil, "pipelines", app, name, "plan"), req)
	if err != nil {
		return nil, err
	}
	var p apitype.Plan
	if err := c.do(ctx, "plan pipeline", r, &p); err != nil {
		return nil, err
	}
	return &p, nil
}
