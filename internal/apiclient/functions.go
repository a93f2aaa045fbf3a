package apiclient

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// ListAccounts lists the accounts the server deploys to.
func (c *Client) ListAccounts(ctx context.Context) ([]apitype.Account, error) {
	var out apitype.AccountList
	if err := c.do(ctx, "list accounts", request{method: http.MethodGet, url: c.endpoint(nil, "accounts")}, &out); err != nil {
		return nil, err
	}
	return out.Accounts, nil
}

// ListFunctions lists the Lambda functions of an account with their
// versions, aliases and, for the local account, recent metrics.
func (c *Client) ListFunctions(ctx context.Context, account string) ([]apitype.Function, error) {
	return c.QueryFunctions(ctx, account, apitype.FunctionQuery{})
}

// QueryFunctions lists the functions of an account narrowed by q: one
// function, and metrics since a time rather than over the last five
// minutes.
func (c *Client) QueryFunctions(ctx context.Context, account string, q apitype.FunctionQuery) ([]apitype.Function, error) {
	v := url.Values{}
	if q.Function != "" {
		v.Set("function", q.Function)
	}
	if q.Region != "" {
		v.Set("region", q.Region)
	}
	if q.Since != 0 {
		v.Set("since", strconv.FormatInt(q.Since, 10))
	}
	var out apitype.FunctionList
	if err := c.do(ctx, "list functions", request{method: http.MethodGet, url: c.endpoint(v, "accounts", account, "functions")}, &out); err != nil {
		return nil, err
	}
	return out.Functions, nil
}
