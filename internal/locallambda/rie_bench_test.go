package locallambda

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/bench/spread"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// BenchmarkInvokeVsRIE puts the local Lambda (`sluice local serve`, built
// from this checkout) beside AWS's Runtime Interface Emulator in its
// concurrent mode (AWS_LAMBDA_MAX_CONCURRENCY: one runtime process serving
// that many requests at once, as Lambda Managed Instances do), both running
// the same aws-lambda-go echo function and called by the same aws-sdk-go-v2
// client from this process, at 16 and 64 concurrent clients. The local
// Lambda runs one environment, one process, per concurrent request, as
// Lambda does. Each of SLUICE_BENCH_ROUNDS rounds (default 3) runs
// SLUICE_BENCH_INVOKES invokes (default 10,000) on each side, the order
// alternating. It logs invokes/s, errors, CPU per invoke of the emulator's
// process and of its function processes, their resident memory and number,
// and the ratio local Lambda ÷ RIE per round.
//
// SLUICE_RIE names the emulator's binary, built from its source. Its
// concurrent mode runs the function as it would in a container: from
// /var/task/bootstrap, as user 993, so the benchmark must run as root, and
// it writes the echo function to /var/task/bootstrap. The emulator answers
// 400 when a request finds no runtime worker waiting, which it does at
// times even with as many workers as clients, so it gets four workers per
// client.
//
//	git clone https://github.com/aws/aws-lambda-runtime-interface-emulator
//	cd aws-lambda-runtime-interface-emulator && go build -o /tmp/aws-lambda-rie ./cmd/aws-lambda-rie
//	SLUICE_RIE=/tmp/aws-lambda-rie go test ./internal/locallambda -run '^$' -bench InvokeVsRIE -benchtime 1x
func BenchmarkInvokeVsRIE(b *testing.B) {
	rie := os.Getenv("SLUICE_RIE")
	if rie == "" {
		b.Skip("SLUICE_RIE names no aws-lambda-rie binary; see the benchmark's comment")
	}
	rounds := lambdatest.EnvInt("SLUICE_BENCH_ROUNDS", 3)
	invokes := lambdatest.EnvInt("SLUICE_BENCH_INVOKES", 10000)
	local := startSluiceLocal(b)
	bootstrap := installRIEFunction(b)
	for _, clients := range []int{16, 64} {
		b.Run(strconv.Itoa(clients), func(b *testing.B) {
			sides := []*invokeSide{local, startRIE(b, rie, bootstrap, clients*4)}
			for b.Loop() {
				var rate [2][]float64
				var ratio []float64
				for _, s := range sides {
					s.run(clients, clients*8) // start environments and connections
					s.reset()                 // and count none of it
				}
				for round := range rounds {
					var r [2]float64
					for j := range 2 {
						k := (round + j) % 2
						r[k] = sides[k].run(clients, invokes)
					}
					rate[0], rate[1] = append(rate[0], r[0]), append(rate[1], r[1])
					ratio = append(ratio, r[0]/r[1])
				}
				for i, s := range sides {
					if s.firstError != nil {
						b.Logf("%s: first error: %v", s.name, s.firstError)
					}
					b.Logf("%s: invokes/s %s, %d errors; CPU per invoke %.0f µs in the emulator, %.0f µs in %d function processes holding %.1f MB at most",
						s.name, spread.MinMedMax(rate[i]), s.errors, s.cpuPer(s.serverCPU), s.cpuPer(s.functionCPU), s.procs, float64(s.rss)/1e6)
				}
				b.Logf("local Lambda ÷ RIE per round: %s", spread.MinMedMax(ratio))
				b.ReportMetric(spread.Median(ratio), "local/rie")
				b.ReportMetric(float64(sides[0].errors), "errors")
			}
		})
	}
}

// invokeSide is one emulator under test: a process whose children are the
// function processes.
type invokeSide struct {
	name   string
	client *lambda.Client
	fn     string
	pid    int

	// Since reset: measured invokes, those that failed and the first
	// failure, the CPU time of the emulator and of its functions, and the
	// largest resident memory of the function processes seen.
	invokes, errors        int64
	firstError             error
	serverCPU, functionCPU time.Duration
	rss                    int64
	procs                  int
}

func (s *invokeSide) reset() {
	s.invokes, s.errors, s.firstError, s.serverCPU, s.functionCPU, s.rss, s.procs = 0, 0, nil, 0, 0, 0, 0
}

func (s *invokeSide) cpuPer(d time.Duration) float64 {
	return float64(d.Microseconds()) / float64(max(s.invokes, 1))
}

// run has clients callers make n invokes in all and returns invokes/s.
func (s *invokeSide) run(clients, n int) float64 {
	ctx := context.Background()
	in := &lambda.InvokeInput{FunctionName: aws.String(s.fn), Payload: []byte(`{"hello":"world"}`)}
	var next, failed atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	server0, functions0 := lambdatest.ProcessCPU(s.pid), lambdatest.ChildrenCPU(s.pid)
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				out, err := s.client.Invoke(ctx, in)
				if err == nil && out.FunctionError != nil {
					err = fmt.Errorf("%s: %s", *out.FunctionError, out.Payload)
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	s.serverCPU += lambdatest.ProcessCPU(s.pid) - server0
	s.functionCPU += lambdatest.ChildrenCPU(s.pid) - functions0
	s.invokes += int64(n)
	s.errors += failed.Load()
	if e := firstErr.Load(); e != nil && s.firstError == nil {
		s.firstError = *e
	}
	if rss, procs := lambdatest.ChildrenRSS(s.pid); rss > s.rss {
		s.rss, s.procs = rss, procs
	}
	return float64(n) / elapsed.Seconds()
}

// startSluiceLocal builds sluice, runs `sluice local serve` on a fresh
// data directory and creates the echo function in it.
func startSluiceLocal(b *testing.B) *invokeSide {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "sluice")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/sluice-cd/sluice/cmd/sluice").CombinedOutput(); err != nil {
		b.Fatalf("build sluice: %v\n%s", err, out)
	}
	addr := freeAddr(b)
	cmd := exec.Command(bin, "local", "serve", "--addr", addr, "--data-dir", filepath.Join(dir, "data"), "--log-level", "error")
	startListening(b, cmd, addr)
	client := lambdatest.BenchClient("http://" + addr)
	ctx := context.Background()
	if _, err := client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("echo"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("echo"),
		Role: aws.String("arn:aws:iam::123456789012:role/bench"), Code: &types.FunctionCode{ZipFile: lambdatest.FunctionZip(b)},
	}); err != nil {
		b.Fatal(err)
	}
	if err := lambda.NewFunctionActiveV2Waiter(client, func(o *lambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 100*time.Millisecond
	}).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("echo")}, time.Minute); err != nil {
		b.Fatal(err)
	}
	return &invokeSide{name: "local Lambda", client: client, fn: "echo", pid: cmd.Process.Pid}
}

// installRIEFunction writes the echo function where the emulator's
// concurrent mode looks for it, /var/task/bootstrap, readable by the
// user it runs functions as.
func installRIEFunction(b *testing.B) string {
	b.Helper()
	code, err := os.ReadFile(filepath.Join(lambdatest.FunctionDir(b), "bootstrap"))
	if err != nil {
		b.Fatal(err)
	}
	const dir, path = "/var/task", "/var/task/bootstrap"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatalf("the RIE's concurrent mode runs /var/task/bootstrap: %v (run the benchmark as root)", err)
	}
	if err := os.WriteFile(path+".tmp", code, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		b.Fatal(err)
	}
	return path
}

// startRIE starts the emulator in its concurrent mode with workers
// runtime workers, running bootstrap with the echo handler.
func startRIE(b *testing.B, rie, bootstrap string, workers int) *invokeSide {
	b.Helper()
	addr, runtimeAddr := freeAddr(b), freeAddr(b)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", runtimeAddr, bootstrap)
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_MAX_CONCURRENCY="+strconv.Itoa(workers), "_HANDLER=echo", "LOG_LEVEL=error",
		"AWS_LAMBDA_FUNCTION_NAME=function", "AWS_REGION=us-east-1")
	startListening(b, cmd, addr)
	return &invokeSide{name: "RIE", client: lambdatest.BenchClient("http://" + addr), fn: "function", pid: cmd.Process.Pid}
}

// startListening starts cmd, to be killed when the benchmark ends, and
// waits until something listens on addr.
func startListening(b *testing.B, cmd *exec.Cmd, addr string) {
	b.Helper()
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", cmd.Path, err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s is not listening on %s after 10 s", cmd.Path, addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freeAddr is a loopback address with a port nothing listens on.
func freeAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
