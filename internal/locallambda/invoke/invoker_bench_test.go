package invoke

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// The figures of issue 3 §5 for the data plane alone: aws-sdk-go-v2 client
// → HTTP → ServeInvoke → Runtime API → the aws-lambda-go test function's
// process, and back, with the tests' small Resolver in place of the
// control plane (the whole local Lambda is benchmarked in package
// locallambda, as the "server" front end).
//
//	go test ./internal/locallambda/invoke -run '^$' -bench . -benchtime 5000x
//
// Besides latency and throughput they report CPU time per invoke, of this
// process (client, HTTP server, data plane) and of the function processes:
// unlike wall-clock figures it does not move much with the machine's load.

// benchTarget is an echo function behind the "direct" front end: an
// httptest server whose only route is Invoke → ServeInvoke.
type benchTarget struct {
	client *lambda.Client
	iv     *Invoker
	fn     string
	// addVersion makes a version of the function that has never run and
	// returns its qualifier.
	addVersion func(i int) string
}

func newBenchTarget(b *testing.B) benchTarget {
	b.Helper()
	te := newTestEnv(b, Config{})
	te.spec(b, "echo", "echo")
	return benchTarget{client: lambdatest.BenchClient(te.srv.URL), iv: te.iv, fn: "echo", addVersion: func(i int) string {
		v := strconv.Itoa(i)
		te.resolver.add(FunctionSpec{Name: "echo", Version: v, Runtime: "provided.al2023", Handler: "echo", CodeDir: lambdatest.FunctionDir(b), CodeSha256: "v" + v})
		return v
	}}
}

// cpu measures this process and the live environments' processes.
func (bt benchTarget) cpu() (self, functions time.Duration) {
	return lambdatest.SelfCPU(), environmentsCPU(bt.iv)
}

// BenchmarkInvokeWarm: one client, sequential invokes of a warm environment.
func BenchmarkInvokeWarm(b *testing.B) {
	b.Run("direct", func(b *testing.B) {
		bt := newBenchTarget(b)
		lambdatest.BenchWarm(b, bt.client, bt.fn, bt.cpu)
	})
}

// BenchmarkInvokeCold: the first invoke of a new version, process start
// included (each iteration adds a version nobody has run).
func BenchmarkInvokeCold(b *testing.B) {
	bt := newBenchTarget(b)
	ctx := context.Background()
	if _, err := bt.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(bt.fn)}); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	i := 0
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		i++
		v := bt.addVersion(i)
		b.StartTimer()
		start := time.Now()
		out, err := bt.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(bt.fn), Qualifier: aws.String(v)})
		lat = append(lat, time.Since(start))
		b.StopTimer()
		if err != nil || out.FunctionError != nil {
			b.Fatalf("invoke: %v %v", err, out)
		}
		bt.iv.Retire(bt.fn, v)
		b.StartTimer()
	}
	b.StopTimer()
	lambdatest.ReportLatencies(b, lat)
}

// BenchmarkInvoke64Clients: 64 concurrent callers of one function.
func BenchmarkInvoke64Clients(b *testing.B) {
	b.Run("direct", func(b *testing.B) {
		bt := newBenchTarget(b)
		lambdatest.BenchConcurrent(b, bt.client, bt.fn, 64, bt.cpu)
	})
}
