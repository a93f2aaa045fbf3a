package lambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/stage"
)

// invokeSpec is the fields of an Aws.LambdaInvokeStage: it invokes a function
// executionCount times (synchronously, RequestResponse, with LogType Tail)
// and records every result in invokeResultsList.
//
// Fields, as the plugin names them:
//
//	account, region, functionName  the function (see base.function)
//	aliasName        the qualifier: an alias, or a version number; empty
//	                 invokes $LATEST (AWS's unpublished head), as the plugin does
//	version          Sluice: a version number (or $LATEST) to invoke when
//	                 aliasName is empty; the plugin declares it and ignores it
//	executionCount   invocations, one after another, 0..100; default 0, as
//	                 Orca's: nothing is invoked and the stage succeeds
//	                 (saying so in invokeTask:message)
//	timeout          seconds each invocation may take (the deadline of the SDK
//	                 call), 0..900; absent or 0 is Clouddriver's own cap on an
//	                 invocation (aws.lambda.invokeTimeoutMs, 50 s). Orca with
//	                 timeout 0 still invokes, then reports every invocation
//	                 as "did not finish on time" (its wait loop never runs);
//	                 Sluice reports what the invocation did
//	payload, payloadArtifact  the event, see payload.go
//	expectedOutput, expectedSubset, expectedRegex  Sluice: checks on each
//	                 response, see expect.go
//
// Every invocation is made, as in the plugin, and the stage then fails if
// any failed: a function error (X-Amz-Function-Error; the stage's message
// is the function's own errorMessage), an invocation that did not answer
// within timeout, or an unmet expectation. An error before the function
// runs (it does not exist, access denied) fails the stage at once; a
// conflict (the function is Pending or updating) or throttling is retried
// until waitTimeoutSeconds.
//
// One task run makes one invocation and records it in the stage context,
// so a re-run after a crash continues with the next invocation; at most
// the one in flight when the process died is made again.
//
// Output invokeResultsList: one object per invocation with the plugin's
// keys body (the response's string "body" or "payload" when it has one,
// as the plugin reads it, else the response), response (the raw
// response), errors (why the invocation failed, "" when it passed) and
// logs (the log tail in base64, as Lambda's LogResult and Orca's logs),
// and Sluice's logText (logs decoded), statusCode, executedVersion, functionError, errorMessage,
// errorType, responseBytes, truncated and durationMs. body and response
// keep at most 16 KiB each; truncated says when they were cut.
type invokeSpec struct {
	target
	payloadFields
	expectationFields
	AliasName      stage.StringField     `json:"aliasName" hint:"the alias (or version number) to invoke; empty invokes $LATEST"`
	Version        stage.WeakStringField `json:"version"`
	ExecutionCount stage.IntField        `json:"executionCount" hint:"how many times to invoke the function; default 1"`
	Timeout        stage.IntField        `json:"timeout" hint:"seconds each invocation may take; default 30"`
}

// Defaults and limits of executionCount and timeout: the Blue/Green and
// progressive checks' (Sluice's), and the Invoke stage's (Orca's
// executionCount 0; Clouddriver's invokeTimeoutMs for timeout 0).
const (
	defaultExecutionCount      = 1
	maxExecutionCount          = 100
	defaultInvokeTimeout       = 30 * time.Second
	maxInvokeTimeoutSecs       = 900
	invokeStageExecutionCount  = 0
	invokeStageDefaultDeadline = 50 * time.Second
)

func (s *invokeSpec) Check(c *stage.Checker) {
	s.target.check(c)
	s.payloadFields.check(c)
	s.expectationFields.check(c)
	c.Valid(&s.AliasName, aliasNamePattern().MatchString)
	if s.Version.Set() {
		if _, err := invokeVersion(s.Version.Value); err != nil {
			c.Errorf(&s.Version, "%v", err)
		}
	}
	c.Range(&s.ExecutionCount, 0, maxExecutionCount)
	c.Range(&s.Timeout, 0, maxInvokeTimeoutSecs)
}

// invocations is executionCount and timeout with the Invoke stage's
// defaults, Orca's and Clouddriver's.
func (s *invokeSpec) invocations() (int, time.Duration) {
	count, d := invokeStageExecutionCount, invokeStageDefaultDeadline
	if s.ExecutionCount.Set() {
		count = int(s.ExecutionCount.Value)
	}
	if s.Timeout.Set() && s.Timeout.Value > 0 {
		d = time.Duration(s.Timeout.Value) * time.Second
	}
	return count, d
}

// newInvokeType is Aws.LambdaInvokeStage: one task, run once per
// invocation.
func newInvokeType(b base) stage.Type {
	return &stageType[invokeSpec, *invokeSpec]{base: b, name: InvokeTypeName, plan: planInvoke, tasks: []task[invokeSpec]{
		{name: "lambdaInvoke", run: b.invoke},
	}}
}

// invokeVersion reads the version field: a version number or $LATEST.
func invokeVersion(v string) (string, error) {
	s := strings.TrimSpace(v)
	if s == "" || s == "$LATEST" {
		return s, nil
	}
	if !isVersionNumber(s) {
		return "", fmt.Errorf("must be a version number or $LATEST, not %q (to invoke through a selector such as $PREVIOUS, route an alias and set aliasName)", s)
	}
	return normalizeVersion(s), nil
}

// invokeResultsKey holds the invocations made so far, in the stage
// context and in the outputs.
const invokeResultsKey = "invokeResultsList"

// invoke makes the next invocation, until executionCount are recorded;
// then the stage succeeds, or fails naming the invocations that failed.
func (b *base) invoke(ctx context.Context, t *stage.Task, f *function, s *invokeSpec) (stage.Result, error) {
	qualifier := s.qualifier()
	count, timeout := s.invocations()
	if count == 0 {
		return stage.Succeed().WithOutputs(map[string]any{invokeResultsKey: []any{},
			"invokeTask:message": "executionCount is 0 (its default, as in Spinnaker): nothing was invoked"}), nil
	}
	exp, _ := s.parse()
	done, err := recordedInvocations(t.Context, invokeResultsKey)
	if err != nil {
		return stage.Result{}, err
	}
	if len(done) < count {
		payload, err := b.fetch.invokePayload(ctx, &s.payloadFields, f.acct.S3, t.Artifacts)
		if err != nil {
			return stage.Result{}, fail("%v", err)
		}
		inv, err := invokeOnce(ctx, f, qualifier, payload, timeout, exp)
		if err != nil {
			return stage.Result{}, err
		}
		done = append(done, inv)
	}
	recorded := map[string]any{invokeResultsKey: jsonValue(done)}
	res := stage.Succeed()
	if len(done) < count {
		res = stage.RetryAfter(time.Millisecond)
	} else if msg := failedInvocations(done, qualified(f, qualifier)); msg != "" {
		res = stage.Fail(msg)
	}
	return res.WithContext(recorded).WithOutputs(recorded), nil
}

// qualifier is aliasName, else version, else none ($LATEST).
func (s *invokeSpec) qualifier() string {
	if alias := strings.TrimSpace(s.AliasName.Value); alias != "" {
		return alias
	}
	q, _ := invokeVersion(s.Version.Value)
	return q
}

// invocations is executionCount and timeout, with their defaults.
func invocations(executionCount, timeout *stage.IntField) (int, time.Duration) {
	count, d := defaultExecutionCount, defaultInvokeTimeout
	if executionCount.Set() {
		count = int(executionCount.Value)
	}
	if timeout.Set() {
		d = time.Duration(timeout.Value) * time.Second
	}
	return count, d
}

// qualified names the function and qualifier for messages.
func qualified(f *function, qualifier string) string {
	q := qualifier
	if q == "" {
		q = "$LATEST"
	}
	return fmt.Sprintf("%s:%s (account %s)", f.name, q, f.acct.Name)
}

// invocation is one recorded invocation: an entry of invokeResultsList.
type invocation struct {
	// The plugin's keys.
	Body     string `json:"body"`
	Response string `json:"response"`
	Errors   string `json:"errors"`
	Logs     string `json:"logs"` // base64, as AWS's LogResult and Orca's logs
	// Sluice's.
	LogText         string `json:"logText,omitempty"` // logs decoded
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
	ErrorMessage    string `json:"errorMessage,omitempty"`
	ErrorType       string `json:"errorType,omitempty"`
	ResponseBytes   int    `json:"responseBytes"`
	Truncated       bool   `json:"truncated,omitempty"`
	DurationMs      int64  `json:"durationMs"`
}

// passed reports whether the invocation passed.
func (inv invocation) passed() bool { return inv.Errors == "" }

// maxRecorded is how much of a response body an invocation record keeps.
const maxRecorded = 16 << 10

// invokeOnce invokes f once. An invocation that ran — successfully, with a
// function error, past its timeout, or with an unmet expectation — is
// returned as a record; errors are for calls that did not reach the
// function (a failure or a notYet).
func invokeOnce(ctx context.Context, f *function, qualifier string, payload []byte, timeout time.Duration, exp expectations) (invocation, error) {
	in := &lambda.InvokeInput{
		FunctionName:   aws.String(f.name),
		InvocationType: types.InvocationTypeRequestResponse,
		LogType:        types.LogTypeTail,
		Payload:        payload,
	}
	if qualifier != "" {
		in.Qualifier = aws.String(qualifier)
	}
	ictx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	out, err := f.c.Invoke(ictx, in)
	elapsed := time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return invocation{}, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) || ictx.Err() != nil {
			return invocation{
				Errors:     fmt.Sprintf("%s did not answer within the timeout of %s", qualified(f, qualifier), timeout),
				DurationMs: elapsed.Milliseconds(),
			}, nil
		}
		if isNotFound(err) {
			return invocation{}, fail("invoke %s: the function or its qualifier does not exist (%v); check functionName, aliasName and account", qualified(f, qualifier), notFoundMessage(err))
		}
		return invocation{}, apiError(f, "Invoke "+qualified(f, qualifier), err)
	}
	inv := invocation{
		StatusCode:      int(out.StatusCode),
		ExecutedVersion: aws.ToString(out.ExecutedVersion),
		FunctionError:   aws.ToString(out.FunctionError),
		ResponseBytes:   len(out.Payload),
		DurationMs:      elapsed.Milliseconds(),
	}
	if lr := aws.ToString(out.LogResult); lr != "" {
		inv.Logs = lr
		if b, err := base64.StdEncoding.DecodeString(lr); err == nil {
			inv.LogText = string(b)
		}
	}
	var truncated bool
	inv.Response, truncated = truncate(out.Payload)
	body := out.Payload
	if inner, ok := innerBody(out.Payload); ok {
		body = []byte(inner)
	}
	var bodyCut bool
	inv.Body, bodyCut = truncate(body)
	inv.Truncated = truncated || bodyCut

	switch {
	case inv.FunctionError != "":
		inv.ErrorMessage, inv.ErrorType = functionErrorOf(out.Payload)
		inv.Errors = inv.ErrorMessage
		if inv.Errors == "" {
			inv.Errors = fmt.Sprintf("the function failed (%s) with %s", inv.FunctionError, quoteSnippet(out.Payload))
		}
	case inv.StatusCode/100 != 2:
		inv.Errors = fmt.Sprintf("Invoke answered status %d", inv.StatusCode)
	default:
		if err := exp.check(out.Payload); err != nil {
			inv.Errors = err.Error()
		}
	}
	return inv, nil
}

// notFoundMessage is AWS's message of a not-found error.
func notFoundMessage(err error) string {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) && nf.Message != nil {
		return *nf.Message
	}
	return err.Error()
}

// innerBody returns the string "body" (or "payload") of a JSON object
// response, as the plugin reads it.
func innerBody(payload []byte) (string, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(payload, &m) != nil {
		return "", false
	}
	for _, k := range []string{"body", "payload"} {
		if raw, ok := m[k]; ok {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				return s, true
			}
		}
	}
	return "", false
}

// functionErrorOf reads errorMessage and errorType from a function error's
// payload.
func functionErrorOf(payload []byte) (msg, typ string) {
	var e struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal(payload, &e) != nil {
		return "", ""
	}
	return e.ErrorMessage, e.ErrorType
}

// truncate keeps at most maxRecorded bytes of b, cut at a rune boundary.
func truncate(b []byte) (string, bool) {
	if len(b) <= maxRecorded {
		return string(b), false
	}
	cut := maxRecorded
	for cut > 0 && !isRuneStart(b[cut]) {
		cut--
	}
	return string(b[:cut]), true
}

// recordedInvocations reads the invocations an earlier run recorded under
// key. The engine stores the context as JSON, so they arrive decoded.
func recordedInvocations(fields map[string]any, key string) ([]invocation, error) {
	v, ok := fields[key]
	if !ok || v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fail("%s in the stage context cannot be read: %v", key, err)
	}
	var list []invocation
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fail("%s in the stage context is not a list of invocation results: %v; remove it from the stage to invoke again", key, err)
	}
	return list, nil
}

// failedInvocations describes the invocations that failed, or "" when all
// passed. Identical reasons are listed once, with their invocations.
func failedInvocations(list []invocation, what string) string {
	var order []string
	which := map[string][]string{}
	failed := 0
	for i, inv := range list {
		if inv.passed() {
			continue
		}
		failed++
		if _, seen := which[inv.Errors]; !seen {
			order = append(order, inv.Errors)
		}
		which[inv.Errors] = append(which[inv.Errors], strconv.Itoa(i+1))
	}
	if failed == 0 {
		return ""
	}
	if len(list) == 1 {
		return fmt.Sprintf("invocation of %s failed: %s", what, list[0].Errors)
	}
	parts := make([]string, len(order))
	for i, msg := range order {
		label := "invocation"
		if len(which[msg]) > 1 {
			label = "invocations"
		}
		parts[i] = fmt.Sprintf("%s %s: %s", label, strings.Join(which[msg], ", "), msg)
	}
	return fmt.Sprintf("%d of %d invocations of %s failed — %s", failed, len(list), what, strings.Join(parts, "; "))
}
