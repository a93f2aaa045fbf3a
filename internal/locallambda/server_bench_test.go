package locallambda

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// The figures of issue 3 §5, measured through the full REST path of the
// "server" front end: aws-sdk-go-v2 client → HTTP → the local Lambda's
// routing → control-plane resolution → ServeInvoke → Runtime API → the
// aws-lambda-go test function's process, and back. (The data plane alone
// is the "direct" front end of package invoke's benchmarks.)
//
//	go test ./internal/locallambda -run '^$' -bench 'Invoke(Warm|64Clients)/server' -benchtime 5000x
//
// Besides latency and throughput they report CPU time per invoke, of this
// process (client, HTTP server, both planes) and of the function
// processes (this process's children).

// newBenchServer starts a Server with the test function as "echo",
// created from a zip through CreateFunction, and returns a client for it.
func newBenchServer(b *testing.B) *lambda.Client {
	b.Helper()
	srv, err := New(Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	client := lambdatest.BenchClient(srv.URL())
	ctx := context.Background()
	if _, err := client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("echo"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("echo"),
		Role: aws.String("arn:aws:iam::123456789012:role/bench"), Code: &types.FunctionCode{ZipFile: lambdatest.FunctionZip(b)},
	}); err != nil {
		b.Fatal(err)
	}
	if err := lambda.NewFunctionActiveV2Waiter(client, func(o *lambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay = 10 * time.Millisecond
		o.MaxDelay = 100 * time.Millisecond
	}).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("echo")}, time.Minute); err != nil {
		b.Fatal(err)
	}
	return client
}

func serverCPU() (self, functions time.Duration) {
	return lambdatest.SelfCPU(), lambdatest.ChildrenCPU(os.Getpid())
}

// BenchmarkInvokeWarm: one client, sequential invokes of a warm environment.
func BenchmarkInvokeWarm(b *testing.B) {
	b.Run("server", func(b *testing.B) {
		lambdatest.BenchWarm(b, newBenchServer(b), "echo", serverCPU)
	})
}

// BenchmarkInvoke64Clients: 64 concurrent callers of one function.
func BenchmarkInvoke64Clients(b *testing.B) {
	b.Run("server", func(b *testing.B) {
		lambdatest.BenchConcurrent(b, newBenchServer(b), "echo", 64, serverCPU)
	})
}
