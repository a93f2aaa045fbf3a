package control

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

func TestCreateFunctionPendingThenActive(t *testing.T) {
	t.Parallel()
	gate := lambdatest.NewActivationGate()
	cs := newCtlServer(t, withGate(gate))
	ctx := context.Background()
	zip := lambdatest.BootstrapZip(t, "v1")
	in := lambdatest.CreateInput("fn", zip)
	in.Description = aws.String("first")
	in.Environment = &types.Environment{Variables: map[string]string{"KEY": "V"}}
	in.Tags = map[string]string{"team": "deploy"}
	out, err := cs.Lambda.CreateFunction(ctx, in)
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	if out.State != types.StatePending || out.StateReasonCode != types.StateReasonCodeCreating || out.LastUpdateStatus != types.LastUpdateStatusInProgress {
		t.Errorf("create answered State %s (%s), LastUpdateStatus %s; want Pending (Creating), InProgress", out.State, out.StateReasonCode, out.LastUpdateStatus)
	}
	if got, want := aws.ToString(out.CodeSha256), lambdatest.CodeSha(zip); got != want {
		t.Errorf("CodeSha256 = %s; want %s", got, want)
	}
	if got := aws.ToString(out.FunctionArn); got != "arn:aws:lambda:us-east-1:000000000000:function:fn" {
		t.Errorf("FunctionArn = %s", got)
	}
	if aws.ToString(out.Version) != "$LATEST" || aws.ToInt64(&out.CodeSize) != int64(len(zip)) {
		t.Errorf("Version %s, CodeSize %d", aws.ToString(out.Version), out.CodeSize)
	}
	if aws.ToInt32(out.Timeout) != 3 || aws.ToInt32(out.MemorySize) != 128 || out.PackageType != types.PackageTypeZip ||
		len(out.Architectures) != 1 || out.Architectures[0] != types.ArchitectureX8664 {
		t.Errorf("defaults: Timeout %d, MemorySize %d, PackageType %s, Architectures %v", aws.ToInt32(out.Timeout), aws.ToInt32(out.MemorySize), out.PackageType, out.Architectures)
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$`).MatchString(aws.ToString(out.LastModified)) {
		t.Errorf("LastModified = %q; want 2006-01-02T15:04:05.000+0000", aws.ToString(out.LastModified))
	}
	// Held by the gate: the waiter's first polls see Pending.
	got, err := cs.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("fn")})
	if err != nil {
		t.Fatal(err)
	}
	if got.Configuration.State != types.StatePending {
		t.Fatalf("GetFunction State = %s; want Pending while the activation is held", got.Configuration.State)
	}
	// Updates and publishing while Pending: 409 with AWS's message.
	_, err = cs.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("fn"), Timeout: aws.Int32(5)})
	lambdatest.WantError[*types.ResourceConflictException](t, err, "The operation cannot be performed at this time. The function is currently in the following state: Pending")
	_, err = cs.Lambda.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("fn")})
	lambdatest.WantError[*types.ResourceConflictException](t, err, "following state: Pending")
	// Invoke while Pending is refused too.
	_, err = cs.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("fn")})
	lambdatest.WantError[*types.ResourceConflictException](t, err, "following state: Pending")

	done := make(chan error, 1)
	go func() {
		w := lambda.NewFunctionActiveV2Waiter(cs.Lambda, func(o *lambda.FunctionActiveV2WaiterOptions) {
			o.MinDelay, o.MaxDelay = 5*time.Millisecond, 20*time.Millisecond
		})
		done <- w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("fn")}, 10*time.Second)
	}()
	gate.Open()
	if err := <-done; err != nil {
		t.Fatalf("FunctionActiveV2: %v", err)
	}
	got, err = cs.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("fn")})
	if err != nil {
		t.Fatal(err)
	}
	c := got.Configuration
	if c.State != types.StateActive || c.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		t.Errorf("after activation: State %s, LastUpdateStatus %s", c.State, c.LastUpdateStatus)
	}
	if aws.ToString(c.RevisionId) == aws.ToString(out.RevisionId) {
		t.Error("RevisionId did not change when the function became Active")
	}
	if c.Environment == nil || c.Environment.Variables["KEY"] != "V" || aws.ToString(c.Description) != "first" {
		t.Errorf("configuration not kept: %+v", c)
	}
	if got.Tags["team"] != "deploy" {
		t.Errorf("Tags = %v", got.Tags)
	}
	if got.Code == nil || aws.ToString(got.Code.RepositoryType) != "S3" {
		t.Fatalf("Code = %+v", got.Code)
	}
	// Code.Location downloads the package.
	resp, err := http.Get(aws.ToString(got.Code.Location))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != string(zip) {
		t.Errorf("Code.Location %s: status %d, %d bytes; want the %d-byte package", aws.ToString(got.Code.Location), resp.StatusCode, len(body), len(zip))
	}
	// Creating it again conflicts.
	_, err = cs.Lambda.CreateFunction(ctx, lambdatest.CreateInput("fn", zip))
	lambdatest.WantError[*types.ResourceConflictException](t, err, "Function already exist: fn")
}

func TestCreateFunctionFailsAsync(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		files    map[string]string
		runtime  types.Runtime
		wantCode types.StateReasonCode
		want     string
	}{
		{"no-bootstrap", map[string]string{"main.py": "x"}, types.RuntimeProvidedal2023, types.StateReasonCodeInvalidRuntime, "bootstrap"},
		{"java", map[string]string{"A.class": "x"}, types.RuntimeJava21, types.StateReasonCodeInvalidRuntime, "not supported by the local Lambda"},
		{"traversal", map[string]string{"../evil": "x", "bootstrap": "#!/bin/sh\n"}, types.RuntimeProvidedal2023, types.StateReasonCodeInvalidZipFileException, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := lambdatest.CreateInput(tt.name, lambdatest.Zip(t, tt.files))
			in.Runtime = tt.runtime
			if _, err := cs.Lambda.CreateFunction(ctx, in); err != nil {
				t.Fatalf("CreateFunction: %v", err)
			}
			w := lambda.NewFunctionActiveV2Waiter(cs.Lambda, func(o *lambda.FunctionActiveV2WaiterOptions) {
				o.MinDelay, o.MaxDelay = 5*time.Millisecond, 20*time.Millisecond
			})
			err := w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(tt.name)}, 10*time.Second)
			if err == nil || !strings.Contains(err.Error(), "Failure") {
				t.Fatalf("FunctionActiveV2 = %v; want the waiter's failure state", err)
			}
			got, err := cs.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(tt.name)})
			if err != nil {
				t.Fatal(err)
			}
			if got.State != types.StateFailed || got.StateReasonCode != tt.wantCode || !strings.Contains(aws.ToString(got.StateReason), tt.want) {
				t.Errorf("State %s (%s: %q); want Failed (%s: …%s…)", got.State, got.StateReasonCode, aws.ToString(got.StateReason), tt.wantCode, tt.want)
			}
			if got.LastUpdateStatus != types.LastUpdateStatusFailed {
				t.Errorf("LastUpdateStatus = %s; want Failed", got.LastUpdateStatus)
			}
			_, err = cs.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(tt.name)})
			lambdatest.WantError[*types.ResourceConflictException](t, err, "following state: Failed")
		})
	}
	// A failed function is fixed by new code.
	cs.UpdateCode(t, "no-bootstrap", lambdatest.BootstrapZip(t, "fixed"))
	cs.WaitActive(t, "no-bootstrap")
}

func TestCreateFunctionValidation(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	zip := lambdatest.BootstrapZip(t, "x")
	mod := func(f func(*lambda.CreateFunctionInput)) *lambda.CreateFunctionInput {
		in := lambdatest.CreateInput("valid", zip)
		f(in)
		return in
	}
	type check func(t testing.TB, err error)
	ipve := func(want string) check {
		return func(t testing.TB, err error) {
			lambdatest.WantError[*types.InvalidParameterValueException](t, err, want)
		}
	}
	validation := func(want string) check {
		return func(t testing.TB, err error) { lambdatest.WantCode(t, err, "ValidationException", want) }
	}
	tests := []struct {
		name  string
		in    *lambda.CreateFunctionInput
		check check
	}{
		{"image package", mod(func(in *lambda.CreateFunctionInput) {
			in.PackageType, in.Code = types.PackageTypeImage, &types.FunctionCode{ImageUri: aws.String("x.dkr.ecr/img:1")}
		}), ipve("PackageType Image is not supported by the local Lambda")},
		{"image uri", mod(func(in *lambda.CreateFunctionInput) { in.Code = &types.FunctionCode{ImageUri: aws.String("img")} }), ipve("Container images")},
		{"vpc", mod(func(in *lambda.CreateFunctionInput) {
			in.VpcConfig = &types.VpcConfig{SubnetIds: []string{"subnet-1"}, SecurityGroupIds: []string{"sg-1"}}
		}), ipve("VpcConfig with subnets or security groups is not supported by the local Lambda")},
		{"layers", mod(func(in *lambda.CreateFunctionInput) {
			in.Layers = []string{"arn:aws:lambda:us-east-1:000000000000:layer:l:1"}
		}), ipve("Layers are not supported")},
		{"bad zip", mod(func(in *lambda.CreateFunctionInput) { in.Code.ZipFile = []byte("PK") }), ipve("Could not unzip uploaded file")},
		{"no code", mod(func(in *lambda.CreateFunctionInput) { in.Code = &types.FunctionCode{} }), ipve("Please provide the function code")},
		{"missing S3 object", mod(func(in *lambda.CreateFunctionInput) {
			in.Code = &types.FunctionCode{S3Bucket: aws.String("nobucket"), S3Key: aws.String("k.zip")}
		}), ipve(`NoSuchBucket`)},
		{"no runtime", mod(func(in *lambda.CreateFunctionInput) { in.Runtime = "" }), ipve("Runtime and Handler are mandatory")},
		{"unknown runtime", mod(func(in *lambda.CreateFunctionInput) { in.Runtime = "cobol85" }), validation("at 'runtime'")},
		{"bad role", mod(func(in *lambda.CreateFunctionInput) { in.Role = aws.String("not-a-role") }), validation("at 'role'")},
		{"timeout", mod(func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(901) }), ipve("at most 900 seconds")},
		{"memory", mod(func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(64) }), validation("memorySize")},
		{"reserved env", mod(func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"AWS_REGION": "x"}}
		}), ipve("Reserved keys used in this request: AWS_REGION")},
		{"env too big", mod(func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"BIG": strings.Repeat("x", 5000)}}
		}), ipve("exceeded the 4KB limit")},
		{"dlq", mod(func(in *lambda.CreateFunctionInput) {
			in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String("arn:aws:s3:::bucket")}
		}), ipve("not an Amazon SQS queue or Amazon SNS topic")},
		{"qualified name", mod(func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String("valid:1") }), validation("functionName")},
		{"snapstart", mod(func(in *lambda.CreateFunctionInput) {
			in.SnapStart = &types.SnapStart{ApplyOn: types.SnapStartApplyOnPublishedVersions}
		}), ipve("SnapStart is not supported")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cs.Lambda.CreateFunction(ctx, tt.in)
			tt.check(t, err)
		})
	}
	// None of them created anything.
	out, err := cs.Lambda.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Functions) != 0 {
		t.Errorf("ListFunctions = %d functions; want none", len(out.Functions))
	}
}

func TestUpdateFunctionCodeAndConfiguration(t *testing.T) {
	t.Parallel()
	gate := lambdatest.NewActivationGate()
	cs := newCtlServer(t, withGate(gate))
	ctx := context.Background()
	zip1, zip2 := lambdatest.BootstrapZip(t, "one"), lambdatest.BootstrapZip(t, "two")
	if _, err := cs.Lambda.CreateFunction(ctx, lambdatest.CreateInput("upd", zip1)); err != nil {
		t.Fatal(err)
	}
	gate.Open()
	cs.WaitActive(t, "upd")
	before, err := cs.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("upd")})
	if err != nil {
		t.Fatal(err)
	}

	// A stale RevisionId is refused.
	_, err = cs.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("upd"), ZipFile: zip2, RevisionId: aws.String("stale")})
	lambdatest.WantError[*types.PreconditionFailedException](t, err, "The Revision Id provided does not match the latest Revision Id")

	// DryRun changes nothing.
	dry, err := cs.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("upd"), ZipFile: zip2, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(dry.CodeSha256) != lambdatest.CodeSha(zip1) || aws.ToString(dry.RevisionId) != aws.ToString(before.RevisionId) {
		t.Errorf("DryRun changed the function: %s %s", aws.ToString(dry.CodeSha256), aws.ToString(dry.RevisionId))
	}

	// Hold the next activation to see InProgress and the 409s.
	gate.Hold()
	out, err := cs.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("upd"), ZipFile: zip2, RevisionId: before.RevisionId})
	if err != nil {
		t.Fatalf("UpdateFunctionCode: %v", err)
	}
	if out.LastUpdateStatus != types.LastUpdateStatusInProgress || out.State != types.StateActive || aws.ToString(out.CodeSha256) != lambdatest.CodeSha(zip2) {
		t.Errorf("UpdateFunctionCode answered State %s, LastUpdateStatus %s, CodeSha256 %s", out.State, out.LastUpdateStatus, aws.ToString(out.CodeSha256))
	}
	if aws.ToString(out.RevisionId) == aws.ToString(before.RevisionId) {
		t.Error("RevisionId did not change with the update")
	}
	_, err = cs.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("upd"), Timeout: aws.Int32(9)})
	lambdatest.WantError[*types.ResourceConflictException](t, err,
		"The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:000000000000:function:upd")
	_, err = cs.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("upd"), ZipFile: zip1})
	lambdatest.WantError[*types.ResourceConflictException](t, err, "An update is in progress")
	_, err = cs.Lambda.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("upd")})
	lambdatest.WantError[*types.ResourceConflictException](t, err, "An update is in progress")
	// Invocations still go to the previous code: $LATEST resolves to it.
	target, err := cs.st.ResolveInvoke(ctx, "upd", "")
	if err != nil {
		t.Fatalf("ResolveInvoke during update: %v", err)
	}
	if target.Primary.CodeSha256 != lambdatest.CodeSha(zip1) {
		t.Errorf("during the update $LATEST runs %s; want the previous code %s", target.Primary.CodeSha256, lambdatest.CodeSha(zip1))
	}
	gate.Open()
	cs.WaitUpdated(t, "upd")
	target, err = cs.st.ResolveInvoke(ctx, "upd", "")
	if err != nil || target.Primary.CodeSha256 != lambdatest.CodeSha(zip2) {
		t.Fatalf("after the update $LATEST runs %+v (%v); want the new code", target, err)
	}

	// UpdateFunctionConfiguration: fields present change, others stay;
	// Environment {} clears.
	cfg, err := cs.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("upd"),
		Timeout:      aws.Int32(30),
		MemorySize:   aws.Int32(256),
		Description:  aws.String("second"),
		Environment:  &types.Environment{Variables: map[string]string{"AB": "1"}},
		Handler:      aws.String("other.handler"),
	})
	if err != nil {
		t.Fatalf("UpdateFunctionConfiguration: %v", err)
	}
	if cfg.LastUpdateStatus != types.LastUpdateStatusInProgress {
		t.Errorf("LastUpdateStatus = %s; want InProgress", cfg.LastUpdateStatus)
	}
	cs.WaitUpdated(t, "upd")
	got, err := cs.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("upd")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(got.Timeout) != 30 || aws.ToInt32(got.MemorySize) != 256 || aws.ToString(got.Handler) != "other.handler" ||
		got.Environment.Variables["AB"] != "1" || aws.ToString(got.CodeSha256) != lambdatest.CodeSha(zip2) || got.Runtime != types.RuntimeProvidedal2023 {
		t.Errorf("after update: %+v", got)
	}
	if _, err := cs.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("upd"), Environment: &types.Environment{},
	}); err != nil {
		t.Fatal(err)
	}
	cs.WaitUpdated(t, "upd")
	got, _ = cs.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("upd")})
	if got.Environment != nil && len(got.Environment.Variables) > 0 {
		t.Errorf("Environment {} did not clear: %v", got.Environment.Variables)
	}

	// A configuration the runtime cannot run fails the update, and the
	// previous configuration stays.
	if _, err := cs.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("upd"), Runtime: types.RuntimeRuby33,
	}); err != nil {
		t.Fatal(err)
	}
	w := lambda.NewFunctionUpdatedV2Waiter(cs.Lambda, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 20*time.Millisecond
	})
	if err := w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("upd")}, 10*time.Second); err == nil {
		t.Fatal("FunctionUpdatedV2 succeeded for an unrunnable runtime")
	}
	got, _ = cs.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("upd")})
	if got.LastUpdateStatus != types.LastUpdateStatusFailed || got.LastUpdateStatusReasonCode != types.LastUpdateStatusReasonCodeInvalidRuntime ||
		got.State != types.StateActive || got.Runtime != types.RuntimeProvidedal2023 {
		t.Errorf("failed update: State %s, LastUpdateStatus %s (%s: %s), Runtime %s", got.State, got.LastUpdateStatus,
			got.LastUpdateStatusReasonCode, aws.ToString(got.LastUpdateStatusReason), got.Runtime)
	}
	// The function is still usable: a later update succeeds.
	cs.UpdateCode(t, "upd", zip1)

	// Unsupported settings on update say so.
	_, err = cs.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("upd"), VpcConfig: &types.VpcConfig{SubnetIds: []string{"subnet-1"}},
	})
	lambdatest.WantError[*types.InvalidParameterValueException](t, err, "is not supported by the local Lambda")
	_, err = cs.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("upd"), ImageUri: aws.String("img:1")})
	lambdatest.WantError[*types.InvalidParameterValueException](t, err, "not supported by the local Lambda")
	_, err = cs.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("nope"), ZipFile: zip1})
	lambdatest.WantError[*types.ResourceNotFoundException](t, err, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope")
}

func TestListFunctionsPaging(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	names := []string{"a-fn", "b-fn", "c-fn", "d-fn", "e-fn"}
	for _, n := range names {
		cs.CreateActive(t, lambdatest.CreateInput(n, lambdatest.BootstrapZip(t, n)))
	}
	cs.Publish(t, "c-fn")

	var got []string
	p := lambda.NewListFunctionsPaginator(cs.Lambda, &lambda.ListFunctionsInput{MaxItems: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, f := range out.Functions {
			got = append(got, aws.ToString(f.FunctionName))
			if f.State != "" {
				t.Errorf("ListFunctions carries State %s; AWS leaves it out", f.State)
			}
		}
	}
	if strings.Join(got, ",") != strings.Join(names, ",") || pages != 3 {
		t.Errorf("paged %v in %d pages; want %v in 3", got, pages, names)
	}
	all, err := cs.Lambda.ListFunctions(ctx, &lambda.ListFunctionsInput{FunctionVersion: types.FunctionVersionAll})
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, f := range all.Functions {
		arns = append(arns, aws.ToString(f.FunctionName)+"@"+aws.ToString(f.Version))
	}
	if want := "a-fn@$LATEST,b-fn@$LATEST,c-fn@$LATEST,c-fn@1,d-fn@$LATEST,e-fn@$LATEST"; strings.Join(arns, ",") != want {
		t.Errorf("ALL = %s; want %s", strings.Join(arns, ","), want)
	}
	_, err = cs.Lambda.ListFunctions(ctx, &lambda.ListFunctionsInput{Marker: aws.String("garbage!")})
	lambdatest.WantError[*types.InvalidParameterValueException](t, err, "Marker")
}

func TestDeleteFunction(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	cs.CreateActive(t, lambdatest.CreateInput("del", lambdatest.BootstrapZip(t, "1")))
	v1 := cs.Publish(t, "del")
	cs.UpdateCode(t, "del", lambdatest.BootstrapZip(t, "2"))
	v2 := cs.Publish(t, "del")
	if _, err := cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("del"), Name: aws.String("live"),
		FunctionVersion: aws.String(v1), RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{v2: 0.5}}}); err != nil {
		t.Fatal(err)
	}

	del := func(q string) error {
		in := &lambda.DeleteFunctionInput{FunctionName: aws.String("del")}
		if q != "" {
			in.Qualifier = aws.String(q)
		}
		_, err := cs.Lambda.DeleteFunction(ctx, in)
		return err
	}
	lambdatest.WantError[*types.ResourceConflictException](t, del(v1), "Unable to delete version because the following aliases reference it: [live]")
	lambdatest.WantError[*types.ResourceConflictException](t, del(v2), "[live]")
	lambdatest.WantError[*types.InvalidParameterValueException](t, del("$LATEST"), "$LATEST version cannot be deleted without deleting the function.")
	lambdatest.WantError[*types.InvalidParameterValueException](t, del("live"), "Deletion of aliases is not currently supported")
	if err := del("99"); err != nil {
		t.Errorf("deleting a missing version: %v; want 204", err)
	}
	if _, err := cs.Lambda.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String("del"), Name: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	if err := del(v2); err != nil {
		t.Fatalf("delete version %s: %v", v2, err)
	}
	_, err := cs.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("del"), Qualifier: aws.String(v2)})
	lambdatest.WantError[*types.ResourceNotFoundException](t, err, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:del:"+v2)

	if err := del(""); err != nil {
		t.Fatalf("delete function: %v", err)
	}
	_, err = cs.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("del")})
	lambdatest.WantError[*types.ResourceNotFoundException](t, err, "Function not found")
	lambdatest.WantError[*types.ResourceNotFoundException](t, del(""), "Function not found")
	// Its files are gone, and the name can be used again.
	if entries, _ := lambdatest.DirNames(cs.abs("functions")); len(entries) != 0 {
		t.Errorf("functions/ still holds %v", entries)
	}
	cs.CreateActive(t, lambdatest.CreateInput("del", lambdatest.BootstrapZip(t, "new")))
	out, err := cs.Lambda.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("del")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Versions) != 1 {
		t.Errorf("a re-created function has %d versions; want only $LATEST", len(out.Versions))
	}
}
