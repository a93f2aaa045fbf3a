package lambda

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
)

const (
	queueA = "arn:aws:sqs:us-east-1:000000000000:orders"
	queueB = "arn:aws:sqs:us-east-1:000000000000:refunds"
)

// mappingsOn lists the mappings whose target is exactly target, by source.
func mappingsOn(t *testing.T, e *localEnv, target string) map[string]string {
	t.Helper()
	out, err := e.c.ListEventSourceMappings(context.Background(), &lambda.ListEventSourceMappingsInput{FunctionName: aws.String(target)})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, esm := range out.EventSourceMappings {
		if aws.ToString(esm.FunctionArn) == target {
			m[aws.ToString(esm.EventSourceArn)] = aws.ToString(esm.UUID)
		}
	}
	return m
}

// reconcileUntilDone runs reconcileEventSources as a task would, until it
// reports the target's mappings.
func reconcileUntilDone(t *testing.T, e *localEnv, f *function, target string, fields map[string]any) map[string]string {
	t.Helper()
	want := eventSourcesOf(t, fields)
	r := newStageRun(t, &reconcileType{f: f, target: target, want: want}, "", map[string]any{"functionName": f.name})
	if res := r.task("reconcile"); res.Status != status.Succeeded {
		t.Fatalf("reconcile: %s", res.Error)
	}
	if r.runs["reconcile"] < 2 && len(want.arns) > 0 {
		t.Logf("reconcile ran %d time(s)", r.runs["reconcile"])
	}
	got, _ := r.outputs["mappings"].(map[string]string)
	return got
}

// esmSpec is a spec of the event source mapping fields alone.
type esmSpec struct{ eventSourceFields }

func (s *esmSpec) Check(c *stage.Checker) { s.eventSourceFields.check(c) }

// eventSourcesOf decodes the event source mapping fields.
func eventSourcesOf(t *testing.T, fields map[string]any) *eventSources {
	t.Helper()
	var s esmSpec
	if err := stage.Decode(fields, &s); err != nil || s.eventSources() == nil {
		t.Fatalf("decode %v: %v, event sources %v", fields, err, s.eventSources())
	}
	return s.eventSources()
}

// reconcileType runs reconcileEventSources as a one-task stage, so the
// harness's driver retries it as the engine would.
type reconcileType struct {
	f      *function
	target string
	want   *eventSources
}

func (*reconcileType) Name() string                               { return "reconcile" }
func (*reconcileType) Validate(map[string]any) []stage.FieldError { return nil }
func (*reconcileType) Tasks(map[string]any) []string              { return []string{"reconcile"} }
func (r *reconcileType) Run(ctx context.Context, t *stage.Task) (stage.Result, error) {
	m, err := reconcileEventSources(ctx, r.f, r.target, r.want)
	return outcome(ctx, t, defaultWaitTimeout, stage.Succeed().WithOutputs(map[string]any{"mappings": m}), err)
}

// Event source mappings are reconciled by UUID on the exact target: an
// alias's mappings are created, changed and deleted without touching the
// function's own mapping of the same queue.
func TestEventSourcesOnAliasTarget(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	withVersions(t, e, "esm", 1)
	ctx := context.Background()
	a, err := e.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("esm"), Name: aws.String("live"), FunctionVersion: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	aliasARN := aws.ToString(a.AliasArn)
	fnARN := unqualifiedARN(aliasARN)
	f := &function{acct: e.acct, c: e.c, name: "esm"}

	// The function itself maps queue A (deploy's target).
	deploy := typeOf(t, e.accounts, DeployTypeName)
	out := newStageRun(t, deploy, "", deployFields("esm", "esm/1.zip", map[string]any{"triggerArns": []any{queueA}, "batchsize": 5})).mustSucceed()
	fnMappings := mappingsOn(t, e, fnARN)
	if len(fnMappings) != 1 || fnMappings[queueA] == "" {
		t.Fatalf("function mappings = %v", fnMappings)
	}
	if got := out["eventSourceMappings"].(map[string]any)[queueA]; got != fnMappings[queueA] {
		t.Errorf("eventSourceMappings output = %v, want UUID %s", out["eventSourceMappings"], fnMappings[queueA])
	}

	// Another function maps queue B.
	withVersions(t, e, "other", 1)
	otherARN := fnARN[:len(fnARN)-len("esm")] + "other"
	reconcileUntilDone(t, e, &function{acct: e.acct, c: e.c, name: "other"}, otherARN, map[string]any{"triggerArns": []any{queueB}, "batchsize": 3})
	otherMappings := mappingsOn(t, e, otherARN)

	// The alias maps B: a new mapping on the alias; the other function's
	// mapping of B is not reused.
	got := reconcileUntilDone(t, e, f, aliasARN, map[string]any{"triggerArns": []any{queueB}, "batchsize": 7})
	onAlias := mappingsOn(t, e, aliasARN)
	if len(onAlias) != 1 || !maps.Equal(got, onAlias) || onAlias[queueB] == otherMappings[queueB] {
		t.Fatalf("alias mappings = %v (reported %v), other function's = %v", onAlias, got, otherMappings)
	}

	// A changed option updates the alias's mapping in place (same UUID).
	reconcileUntilDone(t, e, f, aliasARN, map[string]any{"triggerArns": []any{queueB}, "batchsize": 9})
	m, err := e.c.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(onAlias[queueB])})
	if err != nil || aws.ToInt32(m.BatchSize) != 9 {
		t.Fatalf("alias mapping of B after update: batch %d, %v", aws.ToInt32(m.BatchSize), err)
	}
	if now := mappingsOn(t, e, aliasARN); !maps.Equal(now, onAlias) {
		t.Fatalf("UUIDs changed: %v → %v", onAlias, now)
	}

	// Queue A is mapped to the function itself: the alias cannot map it
	// too, and the stage says which mapping is in the way instead of
	// moving it.
	want := eventSourcesOf(t, map[string]any{"triggerArns": []any{queueA, queueB}})
	r := newStageRun(t, &reconcileType{f: f, target: aliasARN, want: want}, "", map[string]any{"functionName": "esm"})
	res := r.task("reconcile")
	if res.Status != status.Terminal || !strings.Contains(res.Error, fnMappings[queueA]) || !strings.Contains(res.Error, "already mapped to "+fnARN) {
		t.Fatalf("mapping A on the alias: %s %q", res.Status, res.Error)
	}

	// [] removes the alias's mappings (verified gone) and leaves the
	// function's mapping and the other function's mapping of the same queues.
	got = reconcileUntilDone(t, e, f, aliasARN, map[string]any{"triggerArns": []any{}})
	if len(got) != 0 || len(mappingsOn(t, e, aliasARN)) != 0 {
		t.Fatalf("alias mappings after [] = %v / %v", got, mappingsOn(t, e, aliasARN))
	}
	if now := mappingsOn(t, e, fnARN); !maps.Equal(now, fnMappings) {
		t.Fatalf("function mappings = %v, want untouched %v", now, fnMappings)
	}
	if now := mappingsOn(t, e, otherARN); !maps.Equal(now, otherMappings) {
		t.Fatalf("other function's mappings = %v, want untouched %v", now, otherMappings)
	}
	om, err := e.c.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(otherMappings[queueB])})
	if err != nil || aws.ToInt32(om.BatchSize) != 3 {
		t.Fatalf("other function's mapping batch = %d, %v; want 3, untouched", aws.ToInt32(om.BatchSize), err)
	}

	// Absent triggerArns on a deploy with leaveAbsent leaves the
	// function's mappings alone; without it, it removes them, as Orca's
	// LambdaUpdateEventConfigurationTask does, and only the function's.
	newStageRun(t, deploy, "", deployFields("esm", "esm/1.zip", map[string]any{"leaveAbsent": true})).mustSucceed()
	if now := mappingsOn(t, e, fnARN); !maps.Equal(now, fnMappings) {
		t.Fatalf("function mappings after a deploy without triggerArns, with leaveAbsent = %v", now)
	}
	newStageRun(t, deploy, "", deployFields("esm", "esm/1.zip", nil)).mustSucceed()
	if now := mappingsOn(t, e, fnARN); len(now) != 0 {
		t.Fatalf("function mappings after a deploy without triggerArns = %v, want none (as Spinnaker)", now)
	}
	if now := mappingsOn(t, e, otherARN); !maps.Equal(now, otherMappings) {
		t.Fatalf("other function's mappings = %v, want untouched %v", now, otherMappings)
	}
}

// destinationConfig is sent on stream mappings as Clouddriver sends it:
// onFailureArn is applied, and onSuccessArn reaches Lambda too, which
// refuses it for streams (it takes OnSuccess only for Kafka) — the stage
// reports Lambda's refusal rather than ignoring the field.
func TestEventSourceDestinations(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	e.put(t, "dest.zip", helloZip(t))
	deploy := typeOf(t, e.accounts, DeployTypeName)
	const stream = "arn:aws:kinesis:us-east-1:000000000000:stream/orders"
	const dlq = "arn:aws:sqs:us-east-1:000000000000:orders-dlq"
	newStageRun(t, deploy, "", deployFields("dest", "dest.zip", map[string]any{
		"triggerArns": []any{stream}, "destinationConfig": map[string]any{"onFailureArn": dlq}})).mustSucceed()
	out, err := e.c.ListEventSourceMappings(context.Background(), &lambda.ListEventSourceMappingsInput{FunctionName: aws.String("dest")})
	if err != nil || len(out.EventSourceMappings) != 1 {
		t.Fatalf("mappings = %+v, %v", out, err)
	}
	d := out.EventSourceMappings[0].DestinationConfig
	if d == nil || d.OnFailure == nil || aws.ToString(d.OnFailure.Destination) != dlq {
		t.Fatalf("DestinationConfig = %+v, want OnFailure %s", d, dlq)
	}
	msg := newStageRun(t, deploy, "", deployFields("dest", "dest.zip", map[string]any{
		"triggerArns": []any{stream}, "destinationConfig": map[string]any{"onFailureArn": dlq, "onSuccessArn": dlq}})).mustFail()
	if !strings.Contains(msg, "OnSuccess is not supported") {
		t.Fatalf("onSuccessArn on a stream: %q, want Lambda's refusal", msg)
	}
}
