package lambda

// Fixtures of the Invoke, Route and restore tests: functions created and
// versions published with the SDK against the local Lambda of harness_test.go.

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/fnbuild"
	"github.com/sluice-cd/sluice/internal/stage"
)

const (
	fixtureApp   = "demo"
	fixtureRole  = "arn:aws:iam::000000000000:role/lambda-role"
	fixtureRole2 = "arn:aws:iam::000000000000:role/other-role"
)

var (
	probeOnce sync.Once
	probeBuf  []byte
	probeErr  error
)

// probeZip is testdata/probe (a deterministic test function) built once
// per test binary.
func probeZip(t testing.TB) []byte {
	t.Helper()
	probeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		probeBuf, probeErr = fnbuild.Zip(ctx, "../../..", "./internal/stage/lambda/testdata/probe")
	})
	if probeErr != nil {
		t.Fatalf("build probe: %v", probeErr)
	}
	return probeBuf
}

// fnFixture is one function of a test: its full name is
// "demo-<short>", so stages name it "<short>" with application "demo".
type fnFixture struct {
	t     testing.TB
	env   *localEnv
	short string
	name  string
}

// newFixture creates the function from zip with environment vars and
// waits until it is Active.
func newFixture(t testing.TB, env *localEnv, short string, zip []byte, vars map[string]string) *fnFixture {
	t.Helper()
	f := &fnFixture{t: t, env: env, short: short, name: fixtureApp + "-" + short}
	_, err := env.c.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
		FunctionName:  aws.String(f.name),
		Role:          aws.String(fixtureRole),
		Runtime:       types.RuntimeProvidedal2023,
		Handler:       aws.String("bootstrap"),
		Architectures: []types.Architecture{types.Architecture(fnbuild.Architecture())},
		Timeout:       aws.Int32(10),
		Code:          &types.FunctionCode{ZipFile: zip},
		Environment:   &types.Environment{Variables: vars},
	})
	if err != nil {
		t.Fatalf("CreateFunction %s: %v", f.name, err)
	}
	w := lambda.NewFunctionActiveV2Waiter(env.c, func(o *lambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 50*time.Millisecond
	})
	if err := w.Wait(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(f.name)}, 20*time.Second); err != nil {
		t.Fatalf("FunctionActiveV2 %s: %v", f.name, err)
	}
	return f
}

// publish sets $LATEST's environment (and role, when not "") and
// publishes a version, returning its number.
func (f *fnFixture) publish(vars map[string]string, role string) string {
	f.t.Helper()
	ctx := context.Background()
	in := &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(f.name), Environment: &types.Environment{Variables: vars}}
	if role != "" {
		in.Role = aws.String(role)
	}
	if _, err := f.env.c.UpdateFunctionConfiguration(ctx, in); err != nil {
		f.t.Fatalf("UpdateFunctionConfiguration %s: %v", f.name, err)
	}
	uw := lambda.NewFunctionUpdatedV2Waiter(f.env.c, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 50*time.Millisecond
	})
	if err := uw.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(f.name)}, 20*time.Second); err != nil {
		f.t.Fatalf("FunctionUpdatedV2 %s: %v", f.name, err)
	}
	out, err := f.env.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(f.name)})
	if err != nil {
		f.t.Fatalf("PublishVersion %s: %v", f.name, err)
	}
	v := aws.ToString(out.Version)
	vw := lambda.NewPublishedVersionActiveWaiter(f.env.c, func(o *lambda.PublishedVersionActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 50*time.Millisecond
	})
	if err := vw.Wait(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(f.name), Qualifier: aws.String(v)}, 20*time.Second); err != nil {
		f.t.Fatalf("PublishedVersionActive %s:%s: %v", f.name, v, err)
	}
	return v
}

// alias reads an alias; nil when it does not exist.
func (f *fnFixture) alias(name string) *lambda.GetAliasOutput {
	f.t.Helper()
	out, err := f.env.c.GetAlias(context.Background(), &lambda.GetAliasInput{FunctionName: aws.String(f.name), Name: aws.String(name)})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		f.t.Fatalf("GetAlias %s:%s: %v", f.name, name, err)
	}
	return out
}

// setAlias creates or updates an alias to version (with weights).
func (f *fnFixture) setAlias(name, version string, weights map[string]float64) {
	f.t.Helper()
	ctx := context.Background()
	rc := &types.AliasRoutingConfiguration{AdditionalVersionWeights: weights}
	if f.alias(name) == nil {
		if _, err := f.env.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(f.name), Name: aws.String(name),
			FunctionVersion: aws.String(version), RoutingConfig: rc}); err != nil {
			f.t.Fatalf("CreateAlias %s:%s: %v", f.name, name, err)
		}
		return
	}
	if _, err := f.env.c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String(f.name), Name: aws.String(name),
		FunctionVersion: aws.String(version), RoutingConfig: rc}); err != nil {
		f.t.Fatalf("UpdateAlias %s:%s: %v", f.name, name, err)
	}
}

// versionExists reports whether a published version exists.
func (f *fnFixture) versionExists(v string) bool {
	f.t.Helper()
	_, err := f.env.c.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{
		FunctionName: aws.String(f.name), Qualifier: aws.String(v)})
	if isNotFound(err) {
		return false
	}
	if err != nil {
		f.t.Fatalf("GetFunctionConfiguration %s:%s: %v", f.name, v, err)
	}
	return true
}

// fields returns the common stage fields naming this function, plus more.
func (f *fnFixture) fields(more map[string]any) map[string]any {
	m := map[string]any{"account": "local", "region": "us-east-1", "functionName": f.short}
	for k, v := range more {
		m[k] = v
	}
	return m
}

// results decodes invokeResultsList from a stage's outputs.
func results(t testing.TB, outputs map[string]any) []invocation {
	t.Helper()
	var list []invocation
	b, err := json.Marshal(outputs[invokeResultsKey])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("invokeResultsList: %v (%s)", err, b)
	}
	return list
}

// event decodes the "event" a hello or probe response echoes.
func event(t testing.TB, inv invocation) map[string]any {
	t.Helper()
	var resp struct {
		Event map[string]any `json:"event"`
	}
	if err := json.Unmarshal([]byte(inv.Response), &resp); err != nil {
		t.Fatalf("response %q: %v", inv.Response, err)
	}
	return resp.Event
}

// fieldErrors renders Validate's errors as field → message.
func fieldErrors(errs []stage.FieldError) map[string]string {
	m := map[string]string{}
	for _, e := range errs {
		m[e.Field] = e.Msg
	}
	return m
}

// withFields returns a copy of m with more set; a nil value deletes.
func withFields(m, more map[string]any) map[string]any {
	out := make(map[string]any, len(m)+len(more))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range more {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}
