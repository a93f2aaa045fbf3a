package lambda

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-cd/sluice/internal/stage"
)

// The $BLUEGREEN check of a Route stage: the newest version is invoked, one
// invocation per task run (recorded in invokeResultsList, so a re-run
// continues), and compared with the expected output; the alias is only
// touched by the later tasks, after every invocation passed.

// blueGreenCheck is the lambdaBlueGreenCheck task.
func (b *base) blueGreenCheck(ctx context.Context, t *stage.Task, f *function, s *routeSpec) (stage.Result, error) {
	target, err := storedTarget(t)
	if err != nil {
		return stage.Result{}, err
	}
	version := target.Version
	count, timeout := invocations(&s.ExecutionCount, &s.Timeout)
	done, err := recordedInvocations(t.Context, invokeResultsKey)
	if err != nil {
		return stage.Result{}, err
	}
	if n := len(done); n > 0 && !done[n-1].passed() {
		return blueGreenFailed(ctx, f, s, version, done)
	}
	if len(done) >= count {
		return stage.Succeed().WithOutputs(map[string]any{invokeResultsKey: jsonValue(done)}), nil
	}
	exp, _ := s.parse()
	out, err := readArtifact("outputArtifact", s.OutputArtifact.Value, boundOrEmpty(t.Artifacts))
	if err != nil {
		return stage.Result{}, fail("%v", err)
	}
	if out != nil {
		content, err := b.fetch.artifactContent(ctx, "outputArtifact", out, f.acct.S3)
		if err != nil {
			return stage.Result{}, fail("%v", err)
		}
		x, err := newExpectedJSON("outputArtifact", string(content), true)
		if err != nil {
			return stage.Result{}, fail("outputArtifact %v", err)
		}
		exp.artifact = x
	}
	if exp.empty() {
		return stage.Result{}, fail("$BLUEGREEN needs outputArtifact (the response the new version must give), or expectedOutput, expectedSubset or expectedRegex")
	}
	payload, err := b.fetch.invokePayload(ctx, &s.payloadFields, f.acct.S3, t.Artifacts)
	if err != nil {
		return stage.Result{}, fail("%v", err)
	}
	inv, err := invokeOnce(ctx, f, version, payload, timeout, exp)
	if err != nil {
		return stage.Result{}, err
	}
	done = append(done, inv)
	recorded := map[string]any{invokeResultsKey: jsonValue(done)}
	res := stage.Succeed()
	if !inv.passed() || len(done) < count {
		// A failure is acted on in the next run, once it is recorded.
		res = stage.RetryAfter(time.Millisecond)
	}
	return res.WithContext(recorded).WithOutputs(recorded), nil
}

// destroyedKey is the output naming the version destroyOnFail deleted.
const destroyedKey = "blueGreenDestroyedVersion"

// blueGreenFailed ends a failed check: the alias is untouched; with
// destroyOnFail the tested version is deleted, unless an alias routes to
// it.
func blueGreenFailed(ctx context.Context, f *function, s *routeSpec, version string, done []invocation) (stage.Result, error) {
	count, _ := invocations(&s.ExecutionCount, &s.Timeout)
	last := done[len(done)-1]
	msg := fmt.Sprintf("$BLUEGREEN check of version %s of %s failed on invocation %d of %d: %s; alias %s was left as it was",
		version, f.name, len(done), max(len(done), count), last.Errors, s.alias())
	recorded := map[string]any{invokeResultsKey: jsonValue(done)}
	if !s.DestroyOnFail.Value {
		return stage.Fail(msg + "; version " + version + " was kept (set destroyOnFail to delete it)").WithOutputs(recorded), nil
	}
	note, err := destroyVersion(ctx, f, version)
	if err != nil {
		return stage.Result{}, err
	}
	res := stage.Fail(msg + "; " + note).WithOutputs(recorded)
	if strings.HasPrefix(note, "destroyOnFail deleted") {
		res = res.WithOutputs(map[string]any{destroyedKey: version})
	}
	return res, nil
}

// destroyVersion deletes a version that failed its check, unless an alias
// routes to it. It returns what it did, in words.
func destroyVersion(ctx context.Context, f *function, version string) (string, error) {
	use, err := aliasUsage(ctx, f)
	if err != nil {
		return "", err
	}
	if names := use[version]; len(names) > 0 {
		return fmt.Sprintf("destroyOnFail kept version %s because alias %s routes to it", version, strings.Join(names, ", ")), nil
	}
	_, err = f.c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(f.name), Qualifier: aws.String(version)})
	if err != nil && !isNotFound(err) {
		return "", apiError(f, "DeleteFunction (version "+version+")", err)
	}
	// Verify: the version must be gone.
	_, err = f.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{
		FunctionName: aws.String(f.name), Qualifier: aws.String(version)})
	switch {
	case err == nil:
		return "", retry("version %s of %s is still there after DeleteFunction", version, f)
	case !isNotFound(err):
		return "", apiError(f, "GetFunctionConfiguration (version "+version+")", err)
	}
	return fmt.Sprintf("destroyOnFail deleted version %s", version), nil
}
