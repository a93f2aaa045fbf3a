package lambda

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/awsid"
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

// Options are what the Lambda stage types are bound to.
type Options struct {
	// Accounts are the AWS accounts, the local one included; nil gives
	// types that validate documents but cannot run.
	Accounts *awsclient.Accounts
	// ZipFileRoot is the directory whose files a stage's zipFile may name
	// (sluice.yaml's stages.zipFileRoot; the working directory for sluice
	// demo); empty, no zipFile is read.
	ZipFileRoot string
	// Analysis is what the canary analysis stages read.
	Analysis Analysis
	// Artifacts say where artifacts may be read from (sluice.yaml's
	// artifacts section).
	Artifacts ArtifactOptions
}

// Types returns every Lambda stage type, bound to opts.
func Types(opts Options) []stage.Type {
	b := base{accounts: opts.Accounts, zipFileRoot: opts.ZipFileRoot, analysis: opts.Analysis,
		fetch: newFetcher(opts.Artifacts)}
	return []stage.Type{
		newDeployType(b),
		newUpdateCodeType(b),
		newDeleteType(b),
		newInvokeType(b),
		newRouteType(b),
		newRestoreType(b),
		newCanaryType(b),
		newEdgeAssociationType(b),
		newEdgePromoteType(b),
		newEdgeRestoreType(b),
	}
}

// base is what every Lambda stage type is bound to. Tasks that need it are
// its methods.
type base struct {
	accounts    *awsclient.Accounts
	zipFileRoot string  // see Types
	fetch       fetcher // reads payload and output artifacts
	analysis    Analysis
}

// function is the Lambda function a task works on.
type function struct {
	acct *awsclient.Account
	c    *lambda.Client
	// name is the FunctionName sent to the API: a name (application prefix
	// applied) or an ARN as the stage gave it.
	name string
	// zipFileRoot is where the code of a stage's zipFile is read (Types).
	zipFileRoot string
	// fetch reads artifacts.
	fetch fetcher
}

func (f *function) String() string {
	return fmt.Sprintf("function %s in account %s (%s)", f.name, f.acct.Name, f.acct.Region)
}

// function resolves a stage's target: its account (absent or null means
// local; "" is an error naming the accounts, never the local Lambda),
// which the application must be allowed to use, its region, which must be
// one of the account's (absent or "" means the account's first), and the
// function name with
// Spinnaker's application prefix — unless prefixApplicationNameToFunction
// is false, or the name is an ARN, or it already is the application name
// or starts with "<application>-", the name becomes
// "<application>-<functionName>": the rule the plugin applies when it
// creates a function, here applied by every stage alike.
func (b *base) function(app string, tg *target) (*function, error) {
	// Only a stage that sets account to "" (Set) is refused; one that
	// leaves it out, and a target built in code without one, is local.
	account := tg.Account.Value
	if account == "" && !tg.Account.Set() {
		account = awsclient.LocalName
	}
	acct, err := b.accounts.In(account, tg.Region.Value)
	if errors.Is(err, awsclient.ErrUnknownRegion) {
		return nil, fail("region: %v", err)
	}
	if err != nil {
		return nil, fail("account: %v", err)
	}
	// Validation checked an account written in the document; this checks
	// one an expression gave, and one whose applications changed since.
	if err := b.accounts.CheckApplication(app, acct.Name); err != nil {
		return nil, fail("account: %v", err)
	}
	name := strings.TrimSpace(tg.FunctionName.Value)
	if name == "" {
		return nil, fail("functionName is required: the name of the Lambda function")
	}
	if tg.prefixed() {
		name = applicationPrefixed(app, name)
	}
	return &function{acct: acct, c: acct.Lambda, name: name, zipFileRoot: b.zipFileRoot, fetch: b.fetch}, nil
}

// checkAccount checks, when the pipeline is saved, the account and region
// a stage writes literally against the configured accounts, as function
// does when it runs: an unknown account, an empty one, and a region the
// account does not list are refused naming the stage, the field and what
// there is. An account or region given by an expression is checked when
// the stage runs; without accounts (sluice pipeline validate, which has no
// server) nothing is checked.
func (b *base) checkAccount(fields map[string]any, tg *target) []stage.FieldError {
	if b.accounts == nil || tg.Account.Expr() || tg.Region.Expr() || !tg.Region.Missing() && !tg.Region.Set() ||
		tg.Region.Value != "" && !awsid.ValidRegion(tg.Region.Value) {
		return nil
	}
	account := tg.Account.Value
	switch {
	case tg.Account.Missing():
		account = awsclient.LocalName
	case !tg.Account.Set():
		return nil // not a string: stage.Validate said so
	}
	_, err := b.accounts.In(account, tg.Region.Value)
	if err == nil {
		return nil
	}
	label := "this stage"
	if name, _ := fields["name"].(string); name != "" {
		label = fmt.Sprintf("stage %q", name)
	} else if typ, _ := fields["type"].(string); typ != "" {
		label = fmt.Sprintf("this %s stage", typ)
	}
	field := "account"
	if errors.Is(err, awsclient.ErrUnknownRegion) {
		field = "region"
	}
	return []stage.FieldError{{Field: field, Msg: fmt.Sprintf("%s: %v", label, err)}}
}

// applicationPrefixed applies Spinnaker's application prefix to name.
func applicationPrefixed(app, name string) string {
	if app == "" || strings.Contains(name, ":") || strings.EqualFold(name, app) ||
		(len(name) > len(app) && strings.EqualFold(name[:len(app)+1], app+"-")) {
		return name
	}
	return app + "-" + name
}

// functionOutputs are the outputs every stage reports for a function.
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
