package control

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/sluice-cd/sluice/internal/locallambda/invoke"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// TestRestartKeepsEverything closes a server and opens another on the same
// data directory: functions, versions, aliases, concurrency, tags, event
// source mappings, event invoke configs, S3 objects and code are all
// there, and version numbers continue.
func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cs := openCtlServer(t, dir)
	ctx := context.Background()

	in := lambdatest.CreateInput("keep", lambdatest.BootstrapZip(t, "1"))
	in.Tags = map[string]string{"owner": "me"}
	in.Environment = &types.Environment{Variables: map[string]string{"MODE": "one"}}
	cs.CreateActive(t, in)
	cs.Publish(t, "keep")
	cs.UpdateCode(t, "keep", lambdatest.BootstrapZip(t, "2"))
	cs.Publish(t, "keep")
	cs.UpdateCode(t, "keep", lambdatest.BootstrapZip(t, "3"))
	cs.Publish(t, "keep")
	if _, err := cs.Lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("keep"), Qualifier: aws.String("3")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("keep"), Name: aws.String("live"), FunctionVersion: aws.String("1"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.25}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("keep"), ReservedConcurrentExecutions: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	esm, err := cs.Lambda.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("keep"), EventSourceArn: aws.String("arn:aws:sqs:us-east-1:000000000000:q")})
	if err != nil {
		t.Fatal(err)
	}
	waitMapping(t, cs, aws.ToString(esm.UUID), "Enabled")
	if _, err := cs.Lambda.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("keep"), Qualifier: aws.String("live"), MaximumRetryAttempts: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("artifacts")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("a/b.zip"), Body: bytes.NewReader([]byte("payload"))}); err != nil {
		t.Fatal(err)
	}
	before := snapshotAPI(t, cs)
	v2Dir := mustResolve(t, cs, "keep", "2").Primary.CodeDir
	if err := cs.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Leftovers of a crash: files nothing references.
	stray := []string{filepath.Join(dir, "functions", "ghost", "x"), filepath.Join(filepath.Dir(v2Dir), "stray")}
	for _, p := range stray {
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	cs = openCtlServer(t, dir)
	after := snapshotAPI(t, cs)
	if before != after {
		t.Errorf("after a restart the API answers differently:\nbefore: %s\nafter:  %s", before, after)
	}
	if got := mustResolve(t, cs, "keep", "2").Primary.CodeDir; got != v2Dir {
		t.Errorf("version 2's code moved: %s → %s", v2Dir, got)
	}
	if _, err := os.Stat(filepath.Join(v2Dir, "bootstrap")); err != nil {
		t.Errorf("version 2's code is gone: %v", err)
	}
	// They go in the background, once the model is read.
	for _, p := range stray {
		sluicetest.WaitFor(t, "unreferenced "+p+" to go after the restart", 30*time.Second, func() bool {
			_, err := os.Stat(p)
			return os.IsNotExist(err)
		})
	}
	obj, err := cs.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("a/b.zip")})
	if err != nil {
		t.Fatalf("S3 object after restart: %v", err)
	}
	obj.Body.Close()
	// Version numbers continue: 3 was deleted, the next is 4.
	cs.UpdateCode(t, "keep", lambdatest.BootstrapZip(t, "4"))
	if v := cs.Publish(t, "keep"); v != "4" {
		t.Errorf("after a restart the next version is %s; want 4", v)
	}
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left in the data directory", e.Name())
		}
	}
}

// TestRestartResumesActivation stops a server while a function is Pending;
// the next server finishes the activation.
func TestRestartResumesActivation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gate := lambdatest.NewActivationGate()
	cs := openCtlServer(t, dir, withGate(gate))
	ctx := context.Background()
	if _, err := cs.Lambda.CreateFunction(ctx, lambdatest.CreateInput("resume", lambdatest.BootstrapZip(t, "r"))); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- cs.Close() }()
	// Close cancels background work first; the held activation then sees
	// the server is stopping and leaves its work recorded.
	waitClosing(t, cs.Plane)
	gate.Open()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	cs = openCtlServer(t, dir)
	out, err := cs.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("resume")})
	if err != nil {
		t.Fatal(err)
	}
	if s := out.Configuration.State; s != types.StatePending && s != types.StateActive {
		t.Fatalf("State after restart = %s", s)
	}
	cs.WaitActive(t, "resume")
}

func waitClosing(t *testing.T, cp *Plane) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for cp.ctx.Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("Close did not cancel background work")
		}
		time.Sleep(time.Millisecond)
	}
}

func mustResolve(t *testing.T, cs *ctlServer, name, q string) *invoke.Target {
	t.Helper()
	target, err := cs.st.ResolveInvoke(context.Background(), name, q)
	if err != nil {
		t.Fatalf("ResolveInvoke(%s, %s): %v", name, q, err)
	}
	return target
}

// snapshotAPI reads everything about function "keep" through the API.
func snapshotAPI(t *testing.T, cs *ctlServer) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	add := func(v any, err error) {
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		b.Write(j)
		b.WriteString("\n")
	}
	fn, err := cs.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("keep")})
	add(fn.Configuration, err)
	add(fn.Tags, nil)
	add(fn.Concurrency, nil)
	vs, err := cs.Lambda.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("keep")})
	add(vs.Versions, err)
	al, err := cs.Lambda.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("keep"), Name: aws.String("live")})
	add([]any{al.AliasArn, al.FunctionVersion, al.RevisionId, al.RoutingConfig}, err)
	esms, err := cs.Lambda.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{})
	add(esms.EventSourceMappings, err)
	eic, err := cs.Lambda.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("keep"), Qualifier: aws.String("live")})
	add([]any{eic.FunctionArn, eic.MaximumRetryAttempts}, err)
	tags, err := cs.Lambda.ListTags(ctx, &lambda.ListTagsInput{Resource: fn.Configuration.FunctionArn})
	add(maps.Clone(tags.Tags), err)
	return b.String()
}
