package lambdatest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// The benchmarks of issue 3 §5 run an echo function behind a front end
// (the data plane alone, or the whole local Lambda) and measure, besides
// latency and throughput, the CPU time per invoke of this process (client,
// HTTP server, data plane) and of the function processes: unlike
// wall-clock figures it does not move much with the machine's load.

// CPUFunc returns the CPU time used so far by this process and by the
// function processes of the front end under test.
type CPUFunc func() (self, functions time.Duration)

// BenchClient is a Lambda client whose transport keeps enough idle
// connections for concurrent callers, as a load generator should.
func BenchClient(endpoint string) *lambda.Client {
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = 256
		tr.MaxIdleConnsPerHost = 256
	})
	return lambda.New(lambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       inMemoryBody{hc},
	})
}

// inMemoryBody hands the transport the request body as a plain in-memory
// reader. With aws-sdk-go-v2 v1.48 / smithy-go v1.28.9, the SDK's body
// wrapper (a WriterTo that answers io.EOF once the SDK has closed it) makes
// net/http's Transport record a failed request write on a few percent of
// requests and drop the connection, so a sequential client reconnects
// every dozen or so invokes (seen as TIME_WAIT sockets and a p99 of
// connect times). This wrapper keeps the connections alive; it changes
// nothing the server sees.
type inMemoryBody struct {
	c interface {
		Do(*http.Request) (*http.Response, error)
	}
}

func (c inMemoryBody) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	return c.c.Do(r)
}

// ReportLatencies reports the p50, p99 and maximum of lat in milliseconds.
func ReportLatencies(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(int(p*float64(len(lat))), len(lat)-1)]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/float64(time.Millisecond), "max-ms")
}

// reportCPU reports the CPU time per invoke of this process and of the
// function processes since self0 and fn0.
func reportCPU(b *testing.B, cpu CPUFunc, self0, fn0 time.Duration) {
	self1, fn1 := cpu()
	if self1 == 0 {
		return
	}
	b.ReportMetric(float64(self1-self0)/float64(b.N)/1e3, "self-cpu-µs/op")
	b.ReportMetric(float64(fn1-fn0)/float64(b.N)/1e3, "fn-cpu-µs/op")
}

// BenchWarm measures one client invoking fn's warm environment in sequence.
func BenchWarm(b *testing.B, client *lambda.Client, fn string, cpu CPUFunc) {
	in := &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"hello":"world"}`)}
	ctx := context.Background()
	for range 50 { // warm the environment and the connections
		if _, err := client.Invoke(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	self0, fn0 := cpu()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		out, err := client.Invoke(ctx, in)
		lat = append(lat, time.Since(start))
		if err != nil || out.FunctionError != nil {
			b.Fatalf("invoke: %v %v", err, out)
		}
	}
	b.StopTimer()
	ReportLatencies(b, lat)
	reportCPU(b, cpu, self0, fn0)
}

// BenchConcurrent measures clients concurrent callers of fn.
func BenchConcurrent(b *testing.B, client *lambda.Client, fn string, clients int, cpu CPUFunc) {
	ctx := context.Background()
	in := &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"hello":"world"}`)}
	run := func(n int64) (errs int64, elapsed time.Duration) {
		var next, failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range clients {
			wg.Go(func() {
				for next.Add(1) <= n {
					out, err := client.Invoke(ctx, in)
					if err != nil || out.FunctionError != nil {
						if failed.Add(1) == 1 {
							b.Logf("first error: %v", err)
						}
					}
				}
			})
		}
		wg.Wait()
		return failed.Load(), time.Since(start)
	}
	run(int64(clients) * 4) // start the environments and connections
	self0, fn0 := cpu()
	b.ResetTimer()
	errs, elapsed := run(int64(b.N))
	b.StopTimer()
	reportCPU(b, cpu, self0, fn0)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "invokes/s")
	b.ReportMetric(float64(errs), "errors")
	if errs > 0 {
		b.Errorf("%d of %d invokes failed", errs, b.N)
	}
}

// EnvInt is the integer in the environment variable name, or def.
func EnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
