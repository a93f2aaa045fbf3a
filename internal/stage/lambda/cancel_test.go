package lambda

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/stage"
)

// TestCancelAfterChange: a Lambda stage canceled while it runs says what
// it had changed (a *stage.AppliedError, which the engine records as
// TERMINAL), or nothing when none of its tasks had changed anything yet.
func TestCancelAfterChange(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	deploy := typeOf(t, e.accounts, DeployTypeName).(stage.Canceler)
	route := typeOf(t, e.accounts, RouteTypeName).(stage.Canceler)
	del := typeOf(t, e.accounts, DeleteTypeName).(stage.Canceler)
	deployCtx := deployFields("cancelme", "cancelme/1.zip", map[string]any{"publish": true})
	routeCtx := map[string]any{"account": "local", "functionName": "cancelme", "aliasName": "live",
		"deploymentStrategy": "$SIMPLE", "versionNameA": "$LATEST", "provisionedConcurrentExecutions": 2}
	for _, tc := range []struct {
		name    string
		typ     stage.Canceler
		task    string
		ctx     map[string]any
		applied string // "" for CANCELED
	}{
		{"deploy waiting for a new function", deploy, taskWaitActive, withFields(deployCtx, map[string]any{ctxCreated: true}), "createFunction ran on function cancelme"},
		{"deploy waiting for an existing function", deploy, taskWaitActive, withFields(deployCtx, map[string]any{ctxCreated: false}), ""},
		{"deploy after updating the code", deploy, taskWaitCode, deployCtx, "updateCode ran on function cancelme"},
		{"deploy after publishing", deploy, taskWaitPublished, deployCtx, "updateCode, updateConfiguration, publishVersion ran"},
		{"route before its change", route, taskRecordRouting, routeCtx, ""},
		{"route after updating the alias", route, taskAliasPC, routeCtx, "lambdaUpdateAlias ran on function cancelme"},
		{"delete while verifying", del, taskVerify, deleteFields("cancelme", map[string]any{"version": "$OLDEST"}), "deleteVersions ran"},
	} {
		err := tc.typ.Cancel(context.Background(), &stage.Task{Name: tc.task, Context: tc.ctx})
		var applied *stage.AppliedError
		switch {
		case tc.applied == "" && err != nil:
			t.Errorf("%s: Cancel = %v, want nil (nothing changed yet)", tc.name, err)
		case tc.applied != "" && (!errors.As(err, &applied) || !strings.Contains(applied.Change, tc.applied)):
			t.Errorf("%s: Cancel = %v, want an AppliedError naming %q", tc.name, err, tc.applied)
		}
	}
}
