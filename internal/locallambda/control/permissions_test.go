package control

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// policyOf is the Sid → statement of the policy GetPolicy returns, nil
// when there is none.
func policyOf(t *testing.T, cs *ctlServer, qualifier *string) map[string]policyStatement {
	t.Helper()
	out, err := cs.Lambda.GetPolicy(context.Background(), &lambda.GetPolicyInput{FunctionName: aws.String("perm"), Qualifier: qualifier})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version   string
		Statement []policyStatement
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.Policy)), &doc); err != nil || doc.Version != "2012-10-17" {
		t.Fatalf("policy %s: %v", aws.ToString(out.Policy), err)
	}
	got := map[string]policyStatement{}
	for _, s := range doc.Statement {
		got[s.Sid] = s
	}
	return got
}

// TestPermissions: AddPermission, GetPolicy and RemovePermission on the
// function and on an alias, each with its own policy, with AWS's answers
// to a taken statement ID, a missing one, $LATEST and a stale RevisionId;
// the statements survive a restart, and deleting the alias deletes its.
func TestPermissions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cs := openCtlServer(t, dir)
	ctx := context.Background()
	cs.CreateActive(t, lambdatest.CreateInput("perm", lambdatest.BootstrapZip(t, "1")))
	v := cs.Publish(t, "perm")
	if _, err := cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("perm"), Name: aws.String("live"), FunctionVersion: aws.String(v)}); err != nil {
		t.Fatal(err)
	}
	if got := policyOf(t, cs, nil); got != nil {
		t.Fatalf("a new function's policy = %v, want none (ResourceNotFoundException)", got)
	}
	topic := "arn:aws:sns:us-east-1:000000000000:orders"
	out, err := cs.Lambda.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("perm"), StatementId: aws.String("sns-orders"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("sns.amazonaws.com"), SourceArn: aws.String(topic)})
	if err != nil {
		t.Fatal(err)
	}
	var added policyStatement
	if err := json.Unmarshal([]byte(aws.ToString(out.Statement)), &added); err != nil || added.Sid != "sns-orders" {
		t.Fatalf("AddPermission's Statement %q: %v", aws.ToString(out.Statement), err)
	}
	if _, err := cs.Lambda.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("perm"), Qualifier: aws.String("live"),
		StatementId: aws.String("account"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("123456789012")}); err != nil {
		t.Fatal(err)
	}

	fnPolicy := policyOf(t, cs, nil)
	s := fnPolicy["sns-orders"]
	if len(fnPolicy) != 1 || s.Effect != "Allow" || s.Action != "lambda:InvokeFunction" || s.Resource != "arn:aws:lambda:us-east-1:000000000000:function:perm" ||
		s.Principal.(map[string]any)["Service"] != "sns.amazonaws.com" || s.Condition["ArnLike"]["AWS:SourceArn"] != topic {
		t.Errorf("the function's policy = %+v", fnPolicy)
	}
	aliasPolicy := policyOf(t, cs, aws.String("live"))
	if a := aliasPolicy["account"]; len(aliasPolicy) != 1 || a.Resource != "arn:aws:lambda:us-east-1:000000000000:function:perm:live" ||
		a.Principal.(map[string]any)["AWS"] != "arn:aws:iam::123456789012:root" {
		t.Errorf("the alias's policy = %+v", aliasPolicy)
	}

	_, err = cs.Lambda.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("perm"), StatementId: aws.String("sns-orders"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com")})
	lambdatest.WantError[*types.ResourceConflictException](t, err, "The statement id (sns-orders) provided already exists")
	_, err = cs.Lambda.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("perm"), Qualifier: aws.String("$LATEST"),
		StatementId: aws.String("x"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com")})
	lambdatest.WantError[*types.InvalidParameterValueException](t, err, "$LATEST")
	_, err = cs.Lambda.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("perm"), StatementId: aws.String("x"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"), RevisionId: aws.String("stale")})
	lambdatest.WantError[*types.PreconditionFailedException](t, err, "")
	_, err = cs.Lambda.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("perm"), StatementId: aws.String("bad id"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com")})
	lambdatest.WantCode(t, err, "ValidationException", "statementId")
	_, err = cs.Lambda.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("perm"), StatementId: aws.String("nope")})
	lambdatest.WantError[*types.ResourceNotFoundException](t, err, "Statement nope is not found in resource policy.")

	// A restart keeps both policies.
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	cs = openCtlServer(t, dir)
	if got := policyOf(t, cs, nil); got["sns-orders"].Condition["ArnLike"]["AWS:SourceArn"] != topic {
		t.Errorf("after a restart the function's policy = %+v", got)
	}
	if got := policyOf(t, cs, aws.String("live")); len(got) != 1 {
		t.Errorf("after a restart the alias's policy = %+v", got)
	}

	if _, err := cs.Lambda.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("perm"), StatementId: aws.String("sns-orders")}); err != nil {
		t.Fatal(err)
	}
	if got := policyOf(t, cs, nil); got != nil {
		t.Errorf("after RemovePermission of its one statement, the function's policy = %+v, want none", got)
	}
	if _, err := cs.Lambda.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String("perm"), Name: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("perm"), Name: aws.String("live"), FunctionVersion: aws.String(v)}); err != nil {
		t.Fatal(err)
	}
	if got := policyOf(t, cs, aws.String("live")); got != nil {
		t.Errorf("an alias created again has the deleted alias's policy %+v", got)
	}
}
