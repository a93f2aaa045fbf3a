package lambda

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/awsclient"
)

// TestAccountApplications runs a stage whose account (as an expression
// would give it, after validation) lists the applications that may use
// it: another application's pipeline fails with the message validation
// gives, and a listed one deploys.
func TestAccountApplications(t *testing.T) {
	// An AWS account with an endpoint: here the local Lambda, which takes
	// any well-formed signature. The environment keeps the SDK away from
	// this machine's own AWS configuration.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "credentials"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	e := newLocalEnv(t)
	accounts, err := awsclient.New(context.Background(), awsclient.Config{Accounts: []awsclient.AccountConfig{
		{Name: "prod", Region: awsclient.LocalRegion, Endpoint: e.srv.URL(), Applications: []string{"shop"}},
	}}, awsclient.LocalEndpoint{URL: e.srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	del := typeOf(t, accounts, DeleteTypeName)
	fields := map[string]any{"type": DeleteTypeName, "account": "prod", "functionName": "nosuch", "version": "$ALL"}

	msg := newStageRun(t, del, "blog", fields).mustFail()
	want := accounts.CheckApplication("blog", "prod").Error()
	if !strings.Contains(msg, want) || !strings.Contains(msg, `application "blog"`) || !strings.Contains(msg, `account "prod"`) {
		t.Errorf("blog's stage on prod failed with %q, want the message %q", msg, want)
	}
	// The application the account lists gets through to Lambda: the
	// function is already gone, which is success.
	newStageRun(t, del, "shop", fields).mustSucceed()
	// The local account takes every application.
	fields["account"] = "local"
	newStageRun(t, del, "blog", fields).mustSucceed()
}
