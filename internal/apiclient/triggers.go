package apiclient

import (
	"context"
	"net/http"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// SetTriggerEnabled enables or disables a trigger of app/name, named by its
// key (its id) or its position, and returns the new revision with its
// triggers.
func (c *Client) SetTriggerEnabled(ctx context.Context, app, name, key string, enabled bool) (*apitype.Pipeline, error) {
	r, err := jsonRequest(http.MethodPatch, c.endpoint(nil, "pipelines", app, name, "triggers", key), apitype.TriggerUpdate{Enabled: &enabled})
	if err != nil {
		return nil, err
	}
	var p apitype.Pipeline
	if err := c.do(ctx, "set trigger", r, &p); err != nil {
		return nil, err
	}
	return &p, nil
}
