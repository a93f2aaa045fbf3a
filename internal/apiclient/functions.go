package apiclient

import (
	"context"
	"net/http"

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
	var out apitype.FunctionList
	if err := c.do(ctx, "list functions", request{method: http.MethodGet, url: c.endpoint(nil, "accounts", account, "functions")}, &out); err != nil {
		return nil, err
	}
	return out.Functions, nil
}
