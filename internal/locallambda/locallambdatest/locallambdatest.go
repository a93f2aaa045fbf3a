// Package locallambdatest starts a real local Lambda for the tests of
// packages that use one (stages, canary sources, the console), and an
// account set whose local account is it. The local Lambda's own tests
// cannot import it (it imports the local Lambda) and start theirs
// themselves.
package locallambdatest

import (
	"context"
	"testing"

	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/locallambda"
)

// Start runs a local Lambda with cfg on a loopback port, its data in a
// temporary directory unless cfg names one, and closes it when tb ends.
func Start(tb testing.TB, cfg locallambda.Config) *locallambda.Server {
	tb.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = tb.TempDir()
	}
	srv, err := locallambda.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	if _, err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	return srv
}

// Accounts is the account set of a server with no sluice.yaml: the local
// account only, on srv.
func Accounts(tb testing.TB, srv *locallambda.Server) *awsclient.Accounts {
	tb.Helper()
	accounts, err := awsclient.New(context.Background(), awsclient.Config{}, awsclient.LocalEndpoint{URL: srv.URL()})
	if err != nil {
		tb.Fatal(err)
	}
	return accounts
}
