package control

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// aliasFixture is a function "al" with versions 1..3; version 3 has
// another role and version 2 a dead-letter queue.
func aliasFixture(t *testing.T) *ctlServer {
	t.Helper()
	cs := newCtlServer(t)
	ctx := context.Background()
	cs.CreateActive(t, lambdatest.CreateInput("al", lambdatest.BootstrapZip(t, "1")))
	cs.Publish(t, "al") // 1: role r, no DLQ
	if _, err := cs.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("al"),
		DeadLetterConfig: &types.DeadLetterConfig{TargetArn: aws.String("arn:aws:sqs:us-east-1:000000000000:dlq")}}); err != nil {
		t.Fatal(err)
	}
	cs.WaitUpdated(t, "al")
	cs.Publish(t, "al") // 2: role r, DLQ
	if _, err := cs.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("al"),
		Role: aws.String("arn:aws:iam::000000000000:role/other"), DeadLetterConfig: &types.DeadLetterConfig{}}); err != nil {
		t.Fatal(err)
	}
	cs.WaitUpdated(t, "al")
	cs.Publish(t, "al") // 3: role other, no DLQ
	if _, err := cs.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("al"),
		Role: aws.String(lambdatest.Role)}); err != nil {
		t.Fatal(err)
	}
	cs.WaitUpdated(t, "al")
	cs.Publish(t, "al") // 4: role r, no DLQ, like 1
	return cs
}

func TestAliasRoutingValidation(t *testing.T) {
	t.Parallel()
	cs := aliasFixture(t)
	ctx := context.Background()
	ipve := func(want string) func(testing.TB, error) {
		return func(t testing.TB, err error) {
			lambdatest.WantError[*types.InvalidParameterValueException](t, err, want)
		}
	}
	notFound := func(want string) func(testing.TB, error) {
		return func(t testing.TB, err error) { lambdatest.WantError[*types.ResourceNotFoundException](t, err, want) }
	}
	validation := func(want string) func(testing.TB, error) {
		return func(t testing.TB, err error) { lambdatest.WantCode(t, err, "ValidationException", want) }
	}
	var ok func(testing.TB, error) // nil: the alias is accepted
	tests := []struct {
		name    string
		version string
		weights map[string]float64
		check   func(testing.TB, error)
	}{
		{"two additional versions", "1", map[string]float64{"2": 0.1, "4": 0.1}, ipve("Number of items in AdditionalVersionWeights cannot be greater than 1")},
		{"weight above 1", "1", map[string]float64{"4": 1.5}, validation("routingConfig.additionalVersionWeights")},
		{"negative weight", "1", map[string]float64{"4": -0.1}, validation("Member must have value greater than or equal to 0.0")},
		{"additional is primary", "1", map[string]float64{"1": 0.5}, ipve("Invalid function version 1. Function version 1 is already included in routing configuration.")},
		{"latest with weights", "$LATEST", map[string]float64{"1": 0.5}, ipve("$LATEST is not supported for an alias pointing to more than 1 version")},
		{"additional latest", "1", map[string]float64{"$LATEST": 0.5}, validation("routingConfig.additionalVersionWeights")},
		{"missing additional", "1", map[string]float64{"9": 0.5}, notFound("Function not found: arn:aws:lambda:us-east-1:000000000000:function:al:9")},
		{"missing primary", "9", nil, notFound("Function not found: arn:aws:lambda:us-east-1:000000000000:function:al:9")},
		{"different roles", "1", map[string]float64{"3": 0.5}, ipve("must have the same execution role")},
		{"different DLQ", "1", map[string]float64{"2": 0.5}, ipve("must have the same dead-letter queue configuration")},
		{"weight 1.0 accepted", "1", map[string]float64{"4": 1.0}, ok},
		{"weight 0 accepted", "1", map[string]float64{"4": 0}, ok},
		{"no routing", "$LATEST", nil, ok},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("a" + string(rune('a'+i))), FunctionVersion: aws.String(tt.version)}
			if tt.weights != nil {
				in.RoutingConfig = &types.AliasRoutingConfiguration{AdditionalVersionWeights: tt.weights}
			}
			_, err := cs.Lambda.CreateAlias(ctx, in)
			switch {
			case tt.check == nil && err != nil:
				t.Fatalf("CreateAlias: %v; want it accepted", err)
			case tt.check != nil && err == nil:
				t.Fatal("CreateAlias succeeded; want an error")
			case tt.check != nil:
				tt.check(t, err)
			}
		})
	}
	// The messages name both versions and what differs.
	_, err := cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("roles"),
		FunctionVersion: aws.String("1"), RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"3": 0.2}}})
	e := lambdatest.WantError[*types.InvalidParameterValueException](t, err, "versions 1 and 3")
	if !strings.Contains(e.Error(), "role/other") {
		t.Errorf("message %q does not name the differing role", e.Error())
	}
}

func TestAliasLifecycle(t *testing.T) {
	t.Parallel()
	cs := aliasFixture(t)
	ctx := context.Background()
	bad := []string{"123", "has space", strings.Repeat("x", 129)}
	for _, name := range bad {
		_, err := cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String(name), FunctionVersion: aws.String("1")})
		lambdatest.WantCode(t, err, "ValidationException", "at 'name'")
	}

	created, err := cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("live"),
		FunctionVersion: aws.String("1"), Description: aws.String("prod"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"4": 0.1}}})
	if err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	if aws.ToString(created.AliasArn) != "arn:aws:lambda:us-east-1:000000000000:function:al:live" || aws.ToString(created.RevisionId) == "" ||
		created.RoutingConfig == nil || created.RoutingConfig.AdditionalVersionWeights["4"] != 0.1 {
		t.Errorf("CreateAlias = %+v", created)
	}
	_, err = cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("live"), FunctionVersion: aws.String("1")})
	lambdatest.WantError[*types.ResourceConflictException](t, err, "Alias already exists: arn:aws:lambda:us-east-1:000000000000:function:al:live")

	got, err := cs.Lambda.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("al"), Name: aws.String("live")})
	if err != nil || aws.ToString(got.RevisionId) != aws.ToString(created.RevisionId) || aws.ToString(got.Description) != "prod" {
		t.Fatalf("GetAlias = %+v, %v", got, err)
	}
	_, err = cs.Lambda.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("al"), Name: aws.String("nope")})
	lambdatest.WantError[*types.ResourceNotFoundException](t, err, "Cannot find alias arn: arn:aws:lambda:us-east-1:000000000000:function:al:nope")

	// Invoke resolution: primary, additional and weight.
	target, err := cs.st.ResolveInvoke(ctx, "al", "live")
	if err != nil {
		t.Fatal(err)
	}
	if target.Primary.Version != "1" || target.Additional == nil || target.Additional.Version != "4" || target.AdditionalWeight != 0.1 ||
		target.InvokedARN != "arn:aws:lambda:us-east-1:000000000000:function:al:live" {
		t.Errorf("ResolveInvoke(live) = %+v", target)
	}
	// GetFunction through an alias shows the version it points to.
	cfg, err := cs.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("al"), Qualifier: aws.String("live")})
	if err != nil || aws.ToString(cfg.Version) != "1" || aws.ToString(cfg.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:al:live" {
		t.Errorf("GetFunctionConfiguration(live) = %+v, %v", cfg, err)
	}

	// UpdateAlias: stale RevisionId; RoutingConfig left out keeps routing;
	// {} clears it.
	_, err = cs.Lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("al"), Name: aws.String("live"), RevisionId: aws.String("stale")})
	lambdatest.WantError[*types.PreconditionFailedException](t, err, "Revision Id")
	up, err := cs.Lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("al"), Name: aws.String("live"),
		Description: aws.String("moved"), RevisionId: got.RevisionId})
	if err != nil {
		t.Fatalf("UpdateAlias: %v", err)
	}
	if up.RoutingConfig == nil || up.RoutingConfig.AdditionalVersionWeights["4"] != 0.1 || aws.ToString(up.FunctionVersion) != "1" {
		t.Errorf("UpdateAlias without RoutingConfig changed the routing: %+v", up.RoutingConfig)
	}
	if aws.ToString(up.RevisionId) == aws.ToString(got.RevisionId) {
		t.Error("UpdateAlias kept the RevisionId")
	}
	// Moving the primary onto the additional version is refused.
	_, err = cs.Lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("al"), Name: aws.String("live"), FunctionVersion: aws.String("4")})
	lambdatest.WantError[*types.InvalidParameterValueException](t, err, "already included in routing configuration")
	up, err = cs.Lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("al"), Name: aws.String("live"),
		FunctionVersion: aws.String("4"), RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{}}})
	if err != nil {
		t.Fatalf("UpdateAlias clearing routing: %v", err)
	}
	if up.RoutingConfig != nil && len(up.RoutingConfig.AdditionalVersionWeights) != 0 || aws.ToString(up.FunctionVersion) != "4" {
		t.Errorf("UpdateAlias with {} = %+v", up)
	}
	_, err = cs.Lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("al"), Name: aws.String("nope"), FunctionVersion: aws.String("1")})
	lambdatest.WantError[*types.ResourceNotFoundException](t, err, "Alias not found: arn:aws:lambda:us-east-1:000000000000:function:al:nope")

	// ListAliases with paging and the FunctionVersion filter.
	for _, n := range []string{"b", "c", "d"} {
		if _, err := cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String(n), FunctionVersion: aws.String("2")}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	p := lambda.NewListAliasesPaginator(cs.Lambda, &lambda.ListAliasesInput{FunctionName: aws.String("al"), MaxItems: aws.Int32(3)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range out.Aliases {
			names = append(names, aws.ToString(a.Name))
		}
	}
	if strings.Join(names, ",") != "b,c,d,live" {
		t.Errorf("ListAliases = %v", names)
	}
	only, err := cs.Lambda.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("al"), FunctionVersion: aws.String("4")})
	if err != nil || len(only.Aliases) != 1 || aws.ToString(only.Aliases[0].Name) != "live" {
		t.Errorf("ListAliases(FunctionVersion 4) = %+v, %v", only, err)
	}

	// DeleteAlias, also of a missing alias (204 on AWS).
	for _, n := range []string{"live", "live"} {
		if _, err := cs.Lambda.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String("al"), Name: aws.String(n)}); err != nil {
			t.Fatalf("DeleteAlias(%s): %v", n, err)
		}
	}
	_, err = cs.st.ResolveInvoke(ctx, "al", "live")
	lambdatest.WantError[*awserr.Error](t, err, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:al:live")
}
