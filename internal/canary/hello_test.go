package canary_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/fnbuild"
	"github.com/sluice-cd/sluice/internal/locallambda"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
	"github.com/sluice-cd/sluice/internal/locallambda/locallambdatest"
)

// helloLambda is a real local Lambda running the hello example as the
// function "hello", through the local account's SDK client.
type helloLambda struct {
	URL    string
	Lambda *lambda.Client
	*lambdatest.Endpoint
}

// startHello builds the hello example, starts a local Lambda and creates
// the function with env, active; it stops with the test. It skips under
// -short.
func startHello(t *testing.T, env map[string]string) *helloLambda {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a Lambda function")
	}
	ctx := context.Background()
	zip, err := fnbuild.Zip(ctx, filepath.Join("..", ".."), "./examples/functions/hello")
	if err != nil {
		t.Fatal(err)
	}
	srv := locallambdatest.Start(t, locallambda.Config{})
	accounts := locallambdatest.Accounts(t, srv)
	local, err := accounts.Get(awsclient.LocalName)
	if err != nil {
		t.Fatal(err)
	}
	h := &helloLambda{URL: srv.URL(), Lambda: local.Lambda, Endpoint: lambdatest.NewEndpoint(srv.URL())}
	in := lambdatest.CreateInput("hello", zip)
	in.Handler = aws.String("bootstrap")
	in.Runtime = types.RuntimeProvidedal2023
	in.Architectures = []types.Architecture{types.Architecture(fnbuild.Architecture())}
	if env != nil {
		in.Environment = &types.Environment{Variables: env}
	}
	h.CreateActive(t, in)
	return h
}

// reconfigure sets hello's environment and waits for the update.
func (h *helloLambda) reconfigure(t *testing.T, env map[string]string) {
	t.Helper()
	if _, err := h.Lambda.UpdateFunctionConfiguration(context.Background(), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("hello"), Environment: &types.Environment{Variables: env},
	}); err != nil {
		t.Fatal(err)
	}
	h.WaitUpdated(t, "hello")
}
