package locallambda

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
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
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The figures of issue 3 §5, measured through the full REST path:
// aws-sdk-go-v2 client → HTTP → ServeInvoke → Runtime API → the
// aws-lambda-go test function's process, and back.
//
//	go test ./internal/locallambda -run '^$' -bench . -benchtime 5000x
//
// Besides latency and throughput they report CPU time per invoke, of this
// process (client, HTTP server, data plane) and of the function processes:
// unlike wall-clock figures it does not move much with the machine's load.

// benchClient is a Lambda client whose transport keeps enough idle
// connections for concurrent callers, as a load generator should.
func benchClient(endpoint string) *lambda.Client {
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = 256
		tr.MaxIdleConnsPerHost = 256
	})
	return lambda.New(lambda.Options{
		Region:           testRegion,
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

func reportLatencies(b *testing.B, lat []time.Duration) {
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

// benchTarget is an echo function behind one of two HTTP front ends:
// "direct", an httptest server whose only route is Invoke → ServeInvoke
// with the tests' small Resolver; "server", the real local Lambda Server
// (control-plane routing and resolution included), the function created
// from a zip through CreateFunction.
type benchTarget struct {
	client *lambda.Client
	iv     *Invoker
	fn     string
	// addVersion makes a version of the function that has never run and
	// returns its qualifier (direct only).
	addVersion func(i int) string
}

func newBenchTarget(b *testing.B, frontEnd string) benchTarget {
	b.Helper()
	switch frontEnd {
	case "direct":
		te := newTestEnv(b, InvokerConfig{})
		te.spec(b, "echo", "echo")
		return benchTarget{client: benchClient(te.srv.URL), iv: te.iv, fn: "echo", addVersion: func(i int) string {
			v := strconv.Itoa(i)
			te.resolver.add(FunctionSpec{Name: "echo", Version: v, Runtime: "provided.al2023", Handler: "echo", CodeDir: testFunctionDir(b), CodeSha256: "v" + v})
			return v
		}}
	case "server":
		srv, err := New(Config{DataDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { srv.Close() })
		client := benchClient(srv.URL())
		bootstrap, err := os.ReadFile(filepath.Join(testFunctionDir(b), "bootstrap"))
		if err != nil {
			b.Fatal(err)
		}
		var zbuf bytes.Buffer
		zw := zip.NewWriter(&zbuf)
		h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
		h.SetMode(0o755)
		w, _ := zw.CreateHeader(h)
		w.Write(bootstrap)
		zw.Close()
		ctx := context.Background()
		if _, err := client.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String("echo"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("echo"),
			Role: aws.String("arn:aws:iam::123456789012:role/bench"), Code: &types.FunctionCode{ZipFile: zbuf.Bytes()},
		}); err != nil {
			b.Fatal(err)
		}
		if err := lambda.NewFunctionActiveV2Waiter(client, func(o *lambda.FunctionActiveV2WaiterOptions) {
			o.MinDelay = 10 * time.Millisecond
			o.MaxDelay = 100 * time.Millisecond
		}).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("echo")}, time.Minute); err != nil {
			b.Fatal(err)
		}
		return benchTarget{client: client, iv: srv.iv, fn: "echo"}
	}
	b.Fatalf("unknown front end %q", frontEnd)
	return benchTarget{}
}

var frontEnds = []string{"direct", "server"}

// BenchmarkInvokeWarm: one client, sequential invokes of a warm environment.
func BenchmarkInvokeWarm(b *testing.B) {
	for _, fe := range frontEnds {
		b.Run(fe, func(b *testing.B) {
			bt := newBenchTarget(b, fe)
			in := &lambda.InvokeInput{FunctionName: aws.String(bt.fn), Payload: []byte(`{"hello":"world"}`)}
			ctx := context.Background()
			for range 50 { // warm the environment and the connections
				if _, err := bt.client.Invoke(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([]time.Duration, 0, b.N)
			self0, fn0 := processCPU(bt.iv)
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				out, err := bt.client.Invoke(ctx, in)
				lat = append(lat, time.Since(start))
				if err != nil || out.FunctionError != nil {
					b.Fatalf("invoke: %v %v", err, out)
				}
			}
			b.StopTimer()
			reportLatencies(b, lat)
			reportCPU(b, bt.iv, self0, fn0)
		})
	}
}

// reportCPU reports the CPU time per invoke of this process (client, server
// and data plane) and of the function processes.
func reportCPU(b *testing.B, iv *Invoker, self0, fn0 time.Duration) {
	self1, fn1 := processCPU(iv)
	if self1 == 0 {
		return
	}
	b.ReportMetric(float64(self1-self0)/float64(b.N)/1e3, "self-cpu-µs/op")
	b.ReportMetric(float64(fn1-fn0)/float64(b.N)/1e3, "fn-cpu-µs/op")
}

// BenchmarkInvokeCold: the first invoke of a new version, process start
// included (each iteration adds a version nobody has run).
func BenchmarkInvokeCold(b *testing.B) {
	bt := newBenchTarget(b, "direct")
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
	reportLatencies(b, lat)
}

// BenchmarkInvoke64Clients: 64 concurrent callers of one function.
func BenchmarkInvoke64Clients(b *testing.B) {
	const clients = 64
	for _, fe := range frontEnds {
		b.Run(fe, func(b *testing.B) {
			bt := newBenchTarget(b, fe)
			ctx := context.Background()
			in := &lambda.InvokeInput{FunctionName: aws.String(bt.fn), Payload: []byte(`{"hello":"world"}`)}
			run := func(n int64) (errs int64, elapsed time.Duration) {
				var next, failed atomic.Int64
				var wg sync.WaitGroup
				start := time.Now()
				for range clients {
					wg.Go(func() {
						for next.Add(1) <= n {
							out, err := bt.client.Invoke(ctx, in)
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
			run(clients * 4) // start the environments and connections
			self0, fn0 := processCPU(bt.iv)
			b.ResetTimer()
			errs, elapsed := run(int64(b.N))
			b.StopTimer()
			reportCPU(b, bt.iv, self0, fn0)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "invokes/s")
			b.ReportMetric(float64(errs), "errors")
			if errs > 0 {
				b.Errorf("%d of %d invokes failed", errs, b.N)
			}
		})
	}
}
