package apiclient

import (
	"bytes"
	"context"
	"net/http"
	"strconv"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// PutCanaryConfig saves document (canary config JSON) as the next
// revision of the canary config name. The server keeps the bytes as they
// are; the answer lists the config's warnings.
func (c *Client) PutCanaryConfig(ctx context.Context, name string, document []byte) (*apitype.CanaryConfig, error) {
	var out apitype.CanaryConfig
	err := c.do(ctx, "save canary config", request{
		method:      http.MethodPut,
		url:         c.endpoint(nil, "canary-configs", name),
		body:        bytes.NewReader(document),
		contentType: "application/json",
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetCanaryConfig returns the newest revision of a canary config with its
// document.
func (c *Client) GetCanaryConfig(ctx context.Context, name string) (*apitype.CanaryConfig, error) {
	var out apitype.CanaryConfig
	if err := c.do(ctx, "get canary config", request{method: http.MethodGet, url: c.endpoint(nil, "canary-configs", name)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListCanaryConfigs lists the canary configs the caller may read, by name.
func (c *Client) ListCanaryConfigs(ctx context.Context) ([]apitype.CanaryConfig, error) {
	var out apitype.CanaryConfigList
	if err := c.do(ctx, "list canary configs", request{method: http.MethodGet, url: c.endpoint(nil, "canary-configs")}, &out); err != nil {
		return nil, err
	}
	return out.CanaryConfigs, nil
}

// DeleteCanaryConfig deletes a canary config; its revisions are kept.
func (c *Client) DeleteCanaryConfig(ctx context.Context, name string) error {
	return c.do(ctx, "delete canary config", request{method: http.MethodDelete, url: c.endpoint(nil, "canary-configs", name)}, nil)
}

// ListCanaryConfigRevisions lists the revisions of a canary config,
// newest first.
func (c *Client) ListCanaryConfigRevisions(ctx context.Context, name string) ([]apitype.CanaryConfigRevision, error) {
	var out apitype.CanaryConfigRevisionList
	if err := c.do(ctx, "list canary config revisions", request{method: http.MethodGet, url: c.endpoint(nil, "canary-configs", name, "revisions")}, &out); err != nil {
		return nil, err
	}
	return out.Revisions, nil
}

// GetCanaryConfigRevision returns revision rev of a canary config with its
// document.
func (c *Client) GetCanaryConfigRevision(ctx context.Context, name string, rev int) (*apitype.CanaryConfig, error) {
	var out apitype.CanaryConfig
	u := c.endpoint(nil, "canary-configs", name, "revisions", strconv.Itoa(rev))
	if err := c.do(ctx, "get canary config revision", request{method: http.MethodGet, url: u}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ValidateCanaryConfig validates a canary config on the server without
// saving it. An invalid config gives *Error with a detail per problem.
func (c *Client) ValidateCanaryConfig(ctx context.Context, document []byte) (*apitype.CanaryConfigValidateResult, error) {
	var out apitype.CanaryConfigValidateResult
	err := c.do(ctx, "validate canary config", request{
		method:      http.MethodPost,
		url:         c.endpoint(nil, "canary-configs", "validate"),
		body:        bytes.NewReader(document),
		contentType: "application/json",
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}
