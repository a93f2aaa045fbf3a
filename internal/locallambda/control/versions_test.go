package control

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

func TestPublishVersion(t *testing.T) {
	t.Parallel()
	gate := lambdatest.NewActivationGate()
	gate.Open()
	cs := newCtlServer(t, withGate(gate))
	ctx := context.Background()
	zip1 := lambdatest.BootstrapZip(t, "1")
	cs.CreateActive(t, lambdatest.CreateInput("pub", zip1))
	latest, err := cs.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("pub")})
	if err != nil {
		t.Fatal(err)
	}

	// Guards: CodeSha256 and RevisionId.
	_, err = cs.Lambda.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("pub"), CodeSha256: aws.String("abc")})
	lambdatest.WantError[*types.InvalidParameterValueException](t, err,
		fmt.Sprintf("CodeSHA256 (abc) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", lambdatest.CodeSha(zip1)))
	_, err = cs.Lambda.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("pub"), RevisionId: aws.String("r1")})
	lambdatest.WantError[*types.PreconditionFailedException](t, err, "Revision Id")

	// A new version is Pending until its package is unpacked.
	gate.Hold()
	out, err := cs.Lambda.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("pub"),
		CodeSha256: latest.CodeSha256, RevisionId: latest.RevisionId, Description: aws.String("release 1")})
	if err != nil {
		t.Fatalf("PublishVersion: %v", err)
	}
	if aws.ToString(out.Version) != "1" || out.State != types.StatePending || aws.ToString(out.Description) != "release 1" ||
		aws.ToString(out.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:pub:1" {
		t.Errorf("PublishVersion = version %s, State %s, Description %q, ARN %s", aws.ToString(out.Version), out.State, aws.ToString(out.Description), aws.ToString(out.FunctionArn))
	}
	_, err = cs.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("pub"), Qualifier: aws.String("1")})
	lambdatest.WantError[*types.ResourceConflictException](t, err, "following state: Pending")
	gate.Open()
	cs.WaitVersionActive(t, "pub", "1")

	// Nothing changed: the same version comes back.
	again, err := cs.Lambda.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("pub")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(again.Version) != "1" {
		t.Errorf("publishing unchanged code gave version %s; want 1", aws.ToString(again.Version))
	}
	// The same code uploaded again is no change either.
	cs.UpdateCode(t, "pub", zip1)
	if v := cs.Publish(t, "pub"); v != "1" {
		t.Errorf("publishing after re-uploading the same package gave %s; want 1", v)
	}
	// A configuration change is.
	if _, err := cs.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("pub"), Timeout: aws.Int32(10)}); err != nil {
		t.Fatal(err)
	}
	cs.WaitUpdated(t, "pub")
	if v := cs.Publish(t, "pub"); v != "2" {
		t.Errorf("publishing after a configuration change gave %s; want 2", v)
	}
	// Publish: true on UpdateFunctionCode publishes in the same call.
	up, err := cs.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("pub"), ZipFile: lambdatest.BootstrapZip(t, "3"), Publish: true})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(up.Version) != "3" || aws.ToString(up.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:pub:3" {
		t.Errorf("UpdateFunctionCode(Publish) = version %s, ARN %s; want 3", aws.ToString(up.Version), aws.ToString(up.FunctionArn))
	}
	cs.WaitUpdated(t, "pub")
	cs.WaitVersionActive(t, "pub", "3")

	// Versions are immutable snapshots with their own code directories.
	v1, _ := cs.st.ResolveInvoke(ctx, "pub", "1")
	v3, _ := cs.st.ResolveInvoke(ctx, "pub", "3")
	if v1 == nil || v3 == nil || v1.Primary.CodeDir == v3.Primary.CodeDir || v1.Primary.Timeout == v3.Primary.Timeout {
		t.Errorf("versions 1 and 3 share state: %+v / %+v", v1, v3)
	}

	// Numbers are never reused: delete the newest, publish a change → 4.
	if _, err := cs.Lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("pub"), Qualifier: aws.String("3")}); err != nil {
		t.Fatal(err)
	}
	cs.UpdateCode(t, "pub", lambdatest.BootstrapZip(t, "4"))
	if v := cs.Publish(t, "pub"); v != "4" {
		t.Errorf("publishing after deleting version 3 gave %s; want 4", v)
	}

	// CreateFunction with Publish: true.
	created, err := cs.Lambda.CreateFunction(ctx, func() *lambda.CreateFunctionInput {
		in := lambdatest.CreateInput("pub-at-create", zip1)
		in.Publish = true
		return in
	}())
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(created.Version) != "1" {
		t.Errorf("CreateFunction(Publish) Version = %s; want 1", aws.ToString(created.Version))
	}
	cs.WaitActive(t, "pub-at-create")
	cs.WaitVersionActive(t, "pub-at-create", "1")
}

func TestListVersionsByFunction(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	cs.CreateActive(t, lambdatest.CreateInput("lv", lambdatest.BootstrapZip(t, "0")))
	for i := 1; i <= 11; i++ {
		cs.UpdateCode(t, "lv", lambdatest.BootstrapZip(t, fmt.Sprint(i)))
		cs.Publish(t, "lv")
	}
	var got []string
	p := lambda.NewListVersionsByFunctionPaginator(cs.Lambda, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("lv"), MaxItems: aws.Int32(5)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.Versions {
			got = append(got, aws.ToString(v.Version))
			if v.State == "" || v.LastUpdateStatus == "" {
				t.Errorf("version %s lacks State/LastUpdateStatus", aws.ToString(v.Version))
			}
			if want := "arn:aws:lambda:us-east-1:000000000000:function:lv:" + aws.ToString(v.Version); aws.ToString(v.FunctionArn) != want {
				t.Errorf("FunctionArn = %s; want %s", aws.ToString(v.FunctionArn), want)
			}
		}
	}
	if want := "$LATEST,1,2,3,4,5,6,7,8,9,10,11"; strings.Join(got, ",") != want {
		t.Errorf("versions = %s; want %s", strings.Join(got, ","), want)
	}
	_, err := cs.Lambda.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("nope")})
	lambdatest.WantError[*types.ResourceNotFoundException](t, err, "Function not found")
	_, err = cs.Lambda.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("lv"), MaxItems: aws.Int32(0)})
	lambdatest.WantCode(t, err, "ValidationException", "maxItems")
}
