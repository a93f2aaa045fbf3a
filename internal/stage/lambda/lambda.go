// Package lambda implements the AWS Lambda stages — Spinnaker's
// Aws.LambdaDeploymentStage, Aws.LambdaUpdateCodeStage,
// Aws.LambdaInvokeStage, Aws.LambdaTrafficRoutingStage and
// Aws.LambdaDeleteStage with the plugin's field names, defaults and
// outputs — and the rollback stage that restores alias routings.
//
// Every stage reaches Lambda only through the account's aws-sdk-go-v2
// client (awsclient), over HTTP, whether the account is the embedded local
// Lambda or AWS (ARCHITECTURE.md rule 1). It holds no cache: each decision
// is made on a fresh read (rule 6).
//
// # Tasks
//
// A stage is a few short tasks. No task blocks waiting for AWS: a task
// that waits (for State Active, LastUpdateStatus Successful, a published
// version, an event source mapping) reads once and returns Running with a
// short, growing RetryAfter, and the engine runs it again. It fails
// TERMINAL when the function reports Failed (with AWS's reason) or when
// waitTimeoutSeconds (default 300) pass since the task started.
//
// # Re-runs
//
// Any task may run twice (rule 5). Tasks re-read AWS first and act only on
// the difference; what they did is recorded in Result.Context so a later
// task (or a re-run) continues instead of repeating. Deploy publishes at
// most one version per change: before publishing it compares $LATEST's
// CodeSha256 and configuration with the newest published version and
// publishes with RevisionId and CodeSha256 preconditions. Delete records
// the versions it resolved before deleting any, so a re-run deletes the
// same versions, never the next ones.
//
// # Fields
//
// An absent field leaves AWS unchanged; an explicit empty value ({} or [])
// clears. Values are validated by Validate (types and ranges, by field
// name); values containing ${ are checked only once evaluated, at run time.
//
// # Shared helpers (for every file of this package)
//
//   - base: embeds the accounts; base.function resolves a task's account,
//     region and function name (application prefix rule included).
//   - fieldSpec / validateSpecs: Validate's type and range checks; and the
//     read helpers str, integer, boolean, stringList, stringMap.
//   - fail / retry / result: a task's error → stage.Result; apiError
//     classifies SDK errors (conflicts and throttling retry, the rest fail
//     with AWS's message).
//   - waitActive / waitUpdated / waitVersionActive: one-poll checks with
//     the acceptors of the SDK waiters FunctionActiveV2, FunctionUpdatedV2
//     and PublishedVersionActive.
//   - versions.go: Selector, ParseSelector, publishedVersions, aliasUsage.
//   - esm.go: reconcileEventSources on an exact target (function or alias).
package lambda

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

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

// ---- results ----

// failure ends a task TERMINAL with its message as is.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

// fail returns a failure: the message must say what to fix.
func fail(format string, args ...any) error { return &failure{fmt.Sprintf(format, args...)} }

// notYet makes a task run again later (Running with RetryAfter) until its
// wait timeout passes; then it fails with the message.
type notYet struct{ msg string }

func (n *notYet) Error() string { return n.msg }

// retry returns a notYet: what the task is waiting for, in words.
func retry(format string, args ...any) error { return &notYet{fmt.Sprintf(format, args...)} }

// result turns a task's outcome into its result: nil err is res as given
// (Succeeded when its status is empty), a failure is TERMINAL, a notYet is
// Running (or TERMINAL when the wait timeout passed), and any other error
// is TERMINAL with its text — except a canceled context, which is handed
// to the engine so the task runs again.
func result(ctx context.Context, t *stage.Task, res stage.Result, err error) (stage.Result, error) {
	if err == nil {
		if res.Status == "" {
			res.Status = stage.Succeeded
		}
		return res, nil
	}
	if ctx.Err() != nil {
		return stage.Result{}, err
	}
	var f *failure
	var n *notYet
	switch {
	case errors.As(err, &f):
		res.Status, res.Error, res.RetryAfter = stage.Terminal, f.msg, 0
	case errors.As(err, &n):
		timeout, terr := waitTimeout(t)
		if terr != nil {
			res.Status, res.Error = stage.Terminal, terr.Error()
			break
		}
		if elapsed := t.Now.Sub(taskStart(t)); elapsed >= timeout {
			res.Status, res.RetryAfter = stage.Terminal, 0
			res.Error = fmt.Sprintf("gave up after %s (waitTimeoutSeconds %d): %s; raise waitTimeoutSeconds if this needs longer",
				elapsed.Round(time.Millisecond), int(timeout/time.Second), n.msg)
			break
		}
		res.Status, res.RetryAfter = stage.Running, backoff(t)
		if res.Context == nil {
			res.Context = map[string]any{}
		}
		res.Context[ctxWaitingFor] = n.msg
	default:
		res.Status, res.Error, res.RetryAfter = stage.Terminal, err.Error(), 0
	}
	return res, nil
}

func taskStart(t *stage.Task) time.Time {
	if t.TaskStartTime.IsZero() {
		return t.Now
	}
	return t.TaskStartTime
}

// backoff is how long a waiting task waits before it looks again: a
// quarter of the time it has waited, between 20 ms and 2 s. Local
// transitions take milliseconds; AWS's take seconds.
func backoff(t *stage.Task) time.Duration {
	return min(max(t.Now.Sub(taskStart(t))/4, 20*time.Millisecond), 2*time.Second)
}

// waitTimeout is the stage's waitTimeoutSeconds, default 5 minutes.
func waitTimeout(t *stage.Task) (time.Duration, error) {
	n, ok, err := integer(t.Context, "waitTimeoutSeconds")
	switch {
	case err != nil:
		return 0, fail("waitTimeoutSeconds %s", err)
	case !ok:
		return defaultWaitTimeout, nil
	case n < 1:
		return 0, fail("waitTimeoutSeconds must be at least 1, not %d", n)
	}
	return time.Duration(n) * time.Second, nil
}

// apiError turns an SDK error of op on f into a failure or a notYet.
// Conflicts (an update in progress), throttling after the SDK's retries,
// precondition failures (someone changed the function meanwhile; the task
// re-reads), service errors and unreachable endpoints are retried until
// the task's wait timeout; everything else fails with AWS's message.
func apiError(f *function, op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg := strings.TrimSpace(ae.ErrorMessage())
		if msg == "" {
			msg = "(AWS sent no message)"
		}
		code := ae.ErrorCode()
		if (code == "ResourceConflictException" || code == "ConflictException") && strings.Contains(msg, "mapping already exists") {
			// An event source mapping of the same source on another target
			// does not go away by waiting; AWS's message names its UUID.
			return fail("%s of %s: %s: %s", op, f, code, msg)
		}
		switch code {
		case "ResourceConflictException", "ConflictException", "ResourceInUseException",
			"TooManyRequestsException", "ThrottlingException", "ServiceException",
			"PreconditionFailedException", "ResourceNotReadyException", "EC2ThrottledException":
			return retry("%s of %s: %s: %s", op, f, code, msg)
		case "ResourceNotFoundException":
			return fail("%s of %s: not found: %s", op, f, msg)
		case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
			"ExpiredTokenException", "AccessDenied":
			return fail("%s of %s: AWS refused the credentials of account %s (%s: %s); check the account's profile or roleArn and its IAM permissions",
				op, f, f.acct.Name, code, msg)
		}
		return fail("%s of %s: %s: %s", op, f, code, msg)
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &ne) || errors.As(err, &oe) {
		return retry("%s of %s: cannot reach the Lambda endpoint of account %s: %v", op, f, f.acct.Name, err)
	}
	return fail("%s of %s: %v", op, f, err)
}

// isNotFound reports whether err is AWS's ResourceNotFoundException.
func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException"
}

// isConflict reports whether err is a conflict that names aliases
// (AWS refuses to delete a version an alias references).
func isConflict(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "ResourceConflictException" || ae.ErrorCode() == "ConflictException") &&
		strings.Contains(strings.ToLower(ae.ErrorMessage()), "alias")
}

// ---- waiting ----

// getFunction reads the function's $LATEST configuration (with tags and
// concurrency). found is false when the function does not exist.
func getFunction(ctx context.Context, f *function) (out *lambda.GetFunctionOutput, found bool, err error) {
	out, err = f.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(f.name)})
	if err != nil {
		if isNotFound(err) {
			return nil, false, nil
		}
		return nil, false, apiError(f, "GetFunction", err)
	}
	if out.Configuration == nil {
		return nil, false, fail("GetFunction of %s: the response carries no Configuration", f)
	}
	return out, true, nil
}

// stateMessage describes a function's State and LastUpdateStatus for
// errors, with AWS's reasons.
func stateMessage(c *types.FunctionConfiguration) string {
	s := fmt.Sprintf("State %s", orNone(string(c.State)))
	if r := aws.ToString(c.StateReason); r != "" || c.StateReasonCode != "" {
		s += fmt.Sprintf(" (%s: %s)", orNone(string(c.StateReasonCode)), orNone(r))
	}
	s += fmt.Sprintf(", LastUpdateStatus %s", orNone(string(c.LastUpdateStatus)))
	if r := aws.ToString(c.LastUpdateStatusReason); (r != "" || c.LastUpdateStatusReasonCode != "") && r != aws.ToString(c.StateReason) {
		s += fmt.Sprintf(" (%s: %s)", orNone(string(c.LastUpdateStatusReasonCode)), orNone(r))
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// waitActive checks once that the function's State is Active (the
// acceptors of the SDK's FunctionActiveV2 waiter: Active succeeds, Failed
// fails, Pending waits).
func waitActive(ctx context.Context, f *function) (*types.FunctionConfiguration, error) {
	out, found, err := getFunction(ctx, f)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, retry("%s does not exist yet", f)
	}
	c := out.Configuration
	switch c.State {
	case types.StateActive:
		return c, nil
	case types.StateFailed:
		return nil, fail("%s failed to become active: %s; fix the code package or configuration and deploy again", f, stateMessage(c))
	}
	return nil, retry("waiting for %s to become Active: %s", f, stateMessage(c))
}

// waitUpdated checks once that the function's last update finished (the
// acceptors of FunctionUpdatedV2: LastUpdateStatus Successful succeeds,
// Failed fails, InProgress waits). A function that is still Pending waits
// too.
func waitUpdated(ctx context.Context, f *function) (*types.FunctionConfiguration, error) {
	out, found, err := getFunction(ctx, f)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fail("%s does not exist (was it deleted while the stage ran?)", f)
	}
	c := out.Configuration
	switch {
	case c.State == types.StateFailed:
		return nil, fail("%s is in State Failed: %s; fix the code package or configuration and deploy again", f, stateMessage(c))
	case c.LastUpdateStatus == types.LastUpdateStatusFailed:
		return nil, fail("the last update of %s failed: %s; fix the code package or configuration and deploy again", f, stateMessage(c))
	case c.State == types.StatePending || c.LastUpdateStatus == types.LastUpdateStatusInProgress:
		return nil, retry("waiting for the update of %s to finish: %s", f, stateMessage(c))
	}
	return c, nil
}

// waitVersionActive checks once that a published version is Active (the
// acceptors of PublishedVersionActive).
func waitVersionActive(ctx context.Context, f *function, version string) (*types.FunctionConfiguration, error) {
	c, err := f.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{
		FunctionName: aws.String(f.name), Qualifier: aws.String(version)})
	if err != nil {
		if isNotFound(err) {
			return nil, fail("version %s of %s does not exist (was it deleted while the stage ran?)", version, f)
		}
		return nil, apiError(f, "GetFunctionConfiguration", err)
	}
	switch c.State {
	case types.StateActive:
		return functionConfiguration(c), nil
	case types.StateFailed:
		return nil, fail("version %s of %s failed to become active: %s", version, f, stateMessage(functionConfiguration(c)))
	}
	return nil, retry("waiting for version %s of %s to become Active: %s", version, f, stateMessage(functionConfiguration(c)))
}

// functionConfiguration converts GetFunctionConfiguration's output (the
// same shape) to a FunctionConfiguration.
func functionConfiguration(o *lambda.GetFunctionConfigurationOutput) *types.FunctionConfiguration {
	return &types.FunctionConfiguration{
		Architectures: o.Architectures, CodeSha256: o.CodeSha256, CodeSize: o.CodeSize,
		DeadLetterConfig: o.DeadLetterConfig, Description: o.Description, Environment: o.Environment,
		EphemeralStorage: o.EphemeralStorage, FunctionArn: o.FunctionArn, FunctionName: o.FunctionName,
		Handler: o.Handler, ImageConfigResponse: o.ImageConfigResponse, KMSKeyArn: o.KMSKeyArn,
		LastModified: o.LastModified, LastUpdateStatus: o.LastUpdateStatus,
		LastUpdateStatusReason: o.LastUpdateStatusReason, LastUpdateStatusReasonCode: o.LastUpdateStatusReasonCode,
		Layers: o.Layers, LoggingConfig: o.LoggingConfig, MemorySize: o.MemorySize, PackageType: o.PackageType,
		RevisionId: o.RevisionId, Role: o.Role, Runtime: o.Runtime, State: o.State, StateReason: o.StateReason,
		StateReasonCode: o.StateReasonCode, Timeout: o.Timeout, TracingConfig: o.TracingConfig,
		Version: o.Version, VpcConfig: o.VpcConfig,
	}
}

// ---- reading fields ----

// str reads a string field; absent is "".
func str(fields map[string]any, key string) (string, bool, error) {
	s, ok, err := stage.String(fields, key)
	if err != nil {
		return "", true, fmt.Errorf("%s %w", key, err)
	}
	return s, ok, nil
}

// integer reads a whole number (JSON number or numeric string).
func integer(fields map[string]any, key string) (int64, bool, error) {
	n, ok, err := stage.Number(fields, key)
	if err != nil || !ok {
		return 0, ok, err
	}
	if n != float64(int64(n)) {
		return 0, true, fmt.Errorf("must be a whole number, not %v", n)
	}
	return int64(n), true, nil
}

// boolean reads a boolean field with a default for when it is absent.
func boolean(fields map[string]any, key string, def bool) (bool, error) {
	b, ok, err := stage.Bool(fields, key)
	if err != nil {
		return false, fmt.Errorf("%s %w", key, err)
	}
	if !ok {
		return def, nil
	}
	return b, nil
}

// stringList reads a list of strings. A single string is a one-element
// list, or several when comma-separated (the plugin's test pipelines write
// "aliases": "prod"). Empty items are dropped. ok is false when absent.
func stringList(fields map[string]any, key string) ([]string, bool, error) {
	v, present := fields[key]
	if !present || v == nil {
		return nil, false, nil
	}
	var raw []string
	switch x := v.(type) {
	case string:
		raw = strings.Split(x, ",")
	case []string:
		raw = x
	case []any:
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, true, fmt.Errorf("%s[%d] must be a string, not %s", key, i, jsonKind(e))
			}
			raw = append(raw, s)
		}
	default:
		return nil, true, fmt.Errorf("%s must be a list of strings, not %s", key, jsonKind(v))
	}
	out := []string{}
	for _, s := range raw {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, true, nil
}

// stringMap reads an object of scalar values as strings (YAML writes
// PORT: 8080 as a number). ok is false when absent.
func stringMap(fields map[string]any, key string) (map[string]string, bool, error) {
	v, present := fields[key]
	if !present || v == nil {
		return nil, false, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		if sm, ok := v.(map[string]string); ok {
			return sm, true, nil
		}
		return nil, true, fmt.Errorf("%s must be an object of names to values, not %s", key, jsonKind(v))
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		switch x := e.(type) {
		case string:
			out[k] = x
		case float64:
			out[k] = strconv.FormatFloat(x, 'f', -1, 64)
		case int, int64, bool:
			out[k] = fmt.Sprint(x)
		default:
			return nil, true, fmt.Errorf("%s.%s must be a string, not %s", key, k, jsonKind(e))
		}
	}
	return out, true, nil
}

// object reads a nested object; ok is false when absent.
func object(fields map[string]any, key string) (map[string]any, bool, error) {
	v, present := fields[key]
	if !present || v == nil {
		return nil, false, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, true, fmt.Errorf("%s must be an object, not %s", key, jsonKind(v))
	}
	return m, true, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, int, int64:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// ---- validation ----

type fieldKind int

const (
	kindString     fieldKind = iota
	kindInt                  // whole number, optionally in [min, max]
	kindBool                 // true / false
	kindStringList           // list of strings, or one (comma-separated) string
	kindStringMap            // object of scalar values
	kindObject               // object; sub lists its fields
)

// fieldSpec describes one stage field for Validate.
type fieldSpec struct {
	name     string
	kind     fieldKind
	required bool
	min, max int64             // kindInt range; max 0 means no upper bound
	emptyOK  bool              // kindInt: "" is allowed (it clears)
	oneOf    []string          // kindString: allowed values (case-sensitive)
	valid    func(string) bool // kindString: values must pass (non-empty values only)
	sub      []fieldSpec       // kindObject: its fields
	hint     string            // what the field is, added to messages
}

// validateSpecs checks fields against specs and returns every problem,
// sorted by field. Values containing ${ are not checked.
func validateSpecs(fields map[string]any, specs []fieldSpec, prefix string) []stage.FieldError {
	var errs []stage.FieldError
	add := func(s fieldSpec, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if s.hint != "" {
			msg += " (" + s.hint + ")"
		}
		errs = append(errs, stage.FieldError{Field: prefix + s.name, Msg: msg})
	}
	for _, s := range specs {
		v, present := fields[s.name]
		if !present || v == nil {
			if s.required {
				add(s, "is required")
			}
			continue
		}
		if containsExpression(v) {
			continue
		}
		switch s.kind {
		case kindString:
			x, ok := v.(string)
			switch {
			case !ok:
				add(s, "must be a string, not %s", jsonKind(v))
			case s.required && strings.TrimSpace(x) == "":
				add(s, "is required and must not be empty")
			case len(s.oneOf) > 0 && x != "" && !contains(s.oneOf, x):
				add(s, "must be one of %s, not %q", strings.Join(s.oneOf, ", "), x)
			case s.valid != nil && x != "" && !s.valid(x):
				add(s, "%q is not valid", x)
			}
		case kindInt:
			if v == "" && s.emptyOK {
				continue
			}
			n, _, err := integer(fields, s.name)
			switch {
			case err != nil:
				add(s, "%s", err)
			case n < s.min:
				add(s, "must be at least %d, not %d", s.min, n)
			case s.max > 0 && n > s.max:
				add(s, "must be at most %d, not %d", s.max, n)
			}
		case kindBool:
			if _, _, err := stage.Bool(fields, s.name); err != nil {
				add(s, "%s", err)
			}
		case kindStringList:
			if _, _, err := stringList(fields, s.name); err != nil {
				add(s, "%s", strings.TrimPrefix(err.Error(), s.name+" "))
			}
		case kindStringMap:
			if _, _, err := stringMap(fields, s.name); err != nil {
				add(s, "%s", strings.TrimPrefix(err.Error(), s.name+" "))
			}
		case kindObject:
			m, ok := v.(map[string]any)
			if !ok {
				add(s, "must be an object, not %s", jsonKind(v))
				continue
			}
			errs = append(errs, validateSpecs(m, s.sub, prefix+s.name+".")...)
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
	return errs
}

// containsExpression is in payload.go.

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

var (
	// functionNamePattern: a name (1–64), or a full or partial ARN,
	// optionally qualified — as the Lambda API accepts.
	functionNamePattern = regexp.MustCompile(`^((arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:)|(\d{12}:function:))?[a-zA-Z0-9_-]{1,64}(:(\$LATEST|[a-zA-Z0-9_-]+))?$`)
	// aliasNamePattern: AWS's alias names (not all digits).
	aliasNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
)

// commonSpecs are the fields every Lambda stage reads.
var commonSpecs = []fieldSpec{
	{name: "account", kind: kindString, hint: "the account from the accounts config; empty or absent means the local Lambda"},
	{name: "region", kind: kindString, valid: awsclient.ValidRegion, hint: "must be the account's region, e.g. us-east-1"},
	{name: "functionName", kind: kindString, required: true, valid: functionNamePattern.MatchString,
		hint: "a function name of letters, digits, '-' and '_' (at most 64), or a function ARN"},
	{name: "prefixApplicationNameToFunction", kind: kindBool, hint: "false keeps functionName as written instead of prefixing the application name"},
	{name: "waitTimeoutSeconds", kind: kindInt, min: 1, max: 86400, hint: "how long a task waits for AWS, in seconds; default 300"},
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
