package apiclient

import (
	"context"
	"net/http"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// Plan asks what a run of the pipeline app/name would change, with the
// given trigger parameters; the server changes nothing. header is sent
// with the request (the console's session sends its CSRF token); nil
// sends none.
func (c *Client) Plan(ctx context.Context, app, name string, req apitype.PlanRequest, header http.Header) (*apitype.Plan, error) {
	r, err := jsonRequest(http.MethodPost, c.endpoint(nil, "pipelines", app, name, "plan"), req)
	if err != nil {
		return nil, err
	}
	if header != nil {
		if r.header == nil {
			r.header = http.Header{}
		}
		for k, v := range header {
			r.header[k] = v
		}
	}
	var p apitype.Plan
	if err := c.do(ctx, "plan pipeline", r, &p); err != nil {
		return nil, err
	}
	return &p, nil
}
