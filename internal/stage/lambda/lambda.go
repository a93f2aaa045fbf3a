package lambda

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/stage"
)

// Stage type names, as Spinnaker pipelines write them.
const (
	DeployTypeName     = "Aws.LambdaDeploymentStage"
	UpdateCodeTypeName = "Aws.LambdaUpdateCodeStage"
	InvokeTypeName     = "Aws.LambdaInvokeStage"
	RouteTypeName      = "Aws.LambdaTrafficRoutingStage"
	DeleteTypeName     = "Aws.LambdaDeleteStage"
)

// Aliases maps Orca's default type names to the stage types above; the
// CLI registers them with stage.Registry.Alias.
var Aliases = map[string]string{
	"lambdaDeployment":     DeployTypeName,
	"lambdaUpdateCode":     UpdateCodeTypeName,
	"lambdaInvoke":         InvokeTypeName,
	"lambdaTrafficRouting": RouteTypeName,
	"lambdaDelete":         DeleteTypeName,
}

// Types returns every Lambda stage type, bound to accounts.
func Types(accounts *awsclient.Accounts) []stage.Type {
	b := base{accounts: accounts}
	return []stage.Type{
		&DeployType{base: b},
		&UpdateCodeType{base: b},
		&DeleteType{base: b},
		newInvokeType(b),
		newRouteType(b),
		&RestoreType{base: b},
	}
}

// base is embedded by every Lambda stage type.
type base struct {
	accounts *awsclient.Accounts
}

// ctxWaitingFor is the context key where a waiting task says what it
// waits for, for people watching the execution.
const ctxWaitingFor = "waitingFor"

// defaultWaitTimeout is how long a waiting task waits when the stage sets
// no waitTimeoutSeconds.
const defaultWaitTimeout = 5 * time.Minute

// function is the Lambda function a task works on.
type function struct {
	acct *awsclient.Account
	c    *lambda.Client
	// name is the FunctionName sent to the API: a name (application prefix
	// applied) or an ARN as the stage gave it.
	name string
}

func (f *function) String() string {
	return fmt.Sprintf("function %s in account %s (%s)", f.name, f.acct.Name, f.acct.Region)
}

// function resolves the task's account ("account", default local), checks
// "region" against it, and derives the function name from "functionName"
// with Spinnaker's application prefix: unless
// prefixApplicationNameToFunction is false, or the name is an ARN, or it
// already is the application name or starts with "<application>-", the
// name becomes "<application>-<functionName>" — the rule the plugin
// applies when it creates a function, here applied by every stage alike.
func (b *base) function(t *stage.Task) (*function, error) {
	acctName, _, err := stage.String(t.Context, "account")
	if err != nil {
		return nil, fail("account %s", err)
	}
	acct, err := b.accounts.Get(acctName)
	if err != nil {
		return nil, fail("account: %v", err)
	}
	region, _, err := stage.String(t.Context, "region")
	if err != nil {
		return nil, fail("region %s", err)
	}
	if region != "" && region != acct.Region {
		return nil, fail("region %q does not match account %s, which is in %s; leave region out or set it to %s",
			region, acct.Name, acct.Region, acct.Region)
	}
	name, ok, err := stage.String(t.Context, "functionName")
	if err != nil {
		return nil, fail("functionName %s", err)
	}
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return nil, fail("functionName is required: the name of the Lambda function")
	}
	prefix := true
	if p, ok, err := stage.Bool(t.Context, "prefixApplicationNameToFunction"); err != nil {
		return nil, fail("prefixApplicationNameToFunction %s", err)
	} else if ok {
		prefix = p
	}
	if prefix {
		name = applicationPrefixed(t.Application, name)
	}
	return &function{acct: acct, c: acct.Lambda, name: name}, nil
}

// applicationPrefixed applies Spinnaker's application prefix to name.
func applicationPrefixed(app, name string) string {
	if app == "" || strings.Contains(name, ":") || strings.EqualFold(name, app) ||
		(len(name) > len(app) && strings.EqualFold(name[:len(app)+1], app+"-")) {
		return name
	}
	return app + "-" + name
}

// outputsOf returns the outputs every stage reports for f.
func functionOutputs(c *types.FunctionConfiguration) map[string]any {
	return map[string]any{
		"functionName": aws.ToString(c.FunctionName),
		"functionARN":  unqualifiedARN(aws.ToString(c.FunctionArn)),
		"resourceId":   unqualifiedARN(aws.ToString(c.FunctionArn)),
	}
}

// unqualifiedARN strips a version or alias qualifier from a function ARN.
func unqualifiedARN(arn string) string {
	// arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
	parts := strings.Split(arn, ":")
	if len(parts) > 7 {
		return strings.Join(parts[:7], ":")
	}
	return arn
}

// ctxString reads a string the stage's earlier tasks recorded.
func ctxString(t *stage.Task, key string) string {
	s, _ := t.Context[key].(string)
	return s
}
