package invoke

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/sluice-cd/sluice/internal/bench/spread"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// The cost of the per-request sample ring, two ways:
//
//	go test ./internal/locallambda/invoke -run '^$' -bench 'SampleRing' -benchtime 1x
//
// BenchmarkSampleRingRecord times record, what an invoke does to the
// metrics after the function answered, with and without the ring (a
// ring of the default 100,000, full, so every add overwrites). It is
// the marginal cost itself, free of the invoke's noise.
//
// BenchmarkSampleRingInvoke is the whole warm invoke through the SDK with
// the ring (SampleCapacity default) and without it (-1), two Invokers side
// by side; SLUICE_BENCH_ROUNDS (default 10) rounds of 500 invokes alternate
// which goes first, and it logs min/median/max of the per-round ratio
// with/without of the median latency and of the CPU time of this process.

func BenchmarkSampleRingRecord(b *testing.B) {
	rounds := 10
	if v, err := strconv.Atoi(os.Getenv("SLUICE_BENCH_ROUNDS")); err == nil {
		rounds = v
	}
	const perRound = 1000000
	now := time.Now()
	series := func(capacity int) *seriesMetrics {
		s := newMetrics(time.Hour, time.Second, capacity).series("f", "live", "1")
		for i := range 100000 { // fill the ring: the steady state overwrites
			s.record(now.Add(time.Duration(i)), false, false, time.Millisecond)
		}
		return s
	}
	arms := [2]*seriesMetrics{series(-1), series(100000)} // without, with
	for b.Loop() {
		var per [2][]float64
		for r := range rounds {
			for i := range arms {
				k := (i + r) % 2 // alternate which goes first
				start := time.Now()
				for range perRound {
					arms[k].record(now, false, false, 660*time.Microsecond)
				}
				per[k] = append(per[k], float64(time.Since(start))/perRound)
			}
		}
		var added []float64
		for r := range rounds {
			added = append(added, per[1][r]-per[0][r])
		}
		for _, x := range [][]float64{per[0], per[1], added} {
			slices.Sort(x)
		}
		b.Logf("ns per record, %d rounds of %d: without min %.1f median %.1f max %.1f; with min %.1f median %.1f max %.1f; added per round min %.1f median %.1f max %.1f",
			rounds, perRound, per[0][0], spread.Median(per[0]), per[0][rounds-1], per[1][0], spread.Median(per[1]), per[1][rounds-1], added[0], spread.Median(added), added[rounds-1])
		b.ReportMetric(spread.Median(per[0]), "ns-without")
		b.ReportMetric(spread.Median(per[1]), "ns-with")
	}
	b.ReportMetric(0, "ns/op")
}

func BenchmarkSampleRingInvoke(b *testing.B) {
	rounds := 10
	if v, err := strconv.Atoi(os.Getenv("SLUICE_BENCH_ROUNDS")); err == nil {
		rounds = v
	}
	const perRound = 500
	type arm struct {
		name   string
		client *lambda.Client
	}
	newArm := func(name string, capacity int) arm {
		te := newTestEnv(b, Config{SampleCapacity: capacity})
		te.spec(b, "echo", "echo")
		return arm{name, lambdatest.BenchClient(te.srv.URL)}
	}
	arms := []arm{newArm("without", -1), newArm("with", 0)}
	ctx := context.Background()
	in := &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"hello":"world"}`)}
	run := func(a arm, n int) (p50, cpu time.Duration) {
		lat := make([]time.Duration, n)
		cpu0 := lambdatest.SelfCPU()
		for i := range lat {
			start := time.Now()
			out, err := a.client.Invoke(ctx, in)
			lat[i] = time.Since(start)
			if err != nil || out.FunctionError != nil {
				b.Fatalf("invoke %s: %v %v", a.name, err, out)
			}
		}
		cpu = (lambdatest.SelfCPU() - cpu0) / time.Duration(n)
		return spread.Median(lat), cpu
	}
	for _, a := range arms {
		run(a, 100) // warm the environments and the connections
	}
	for b.Loop() {
		var latRatio, cpuRatio []float64
		var with, without []time.Duration
		for r := range rounds {
			got := map[string][2]time.Duration{}
			for i := range arms {
				a := arms[(i+r)%2] // alternate which goes first
				p50, cpu := run(a, perRound)
				got[a.name] = [2]time.Duration{p50, cpu}
			}
			latRatio = append(latRatio, float64(got["with"][0])/float64(got["without"][0]))
			cpuRatio = append(cpuRatio, float64(got["with"][1])/float64(got["without"][1]))
			with = append(with, got["with"][0])
			without = append(without, got["without"][0])
		}
		slices.Sort(latRatio)
		slices.Sort(cpuRatio)
		slices.Sort(with)
		slices.Sort(without)
		mmm := func(x []float64) (float64, float64, float64) { return x[0], spread.Median(x), x[len(x)-1] }
		b.Logf("p50 per round: without %v … %v … %v; with %v … %v … %v", without[0], spread.Median(without), without[len(without)-1], with[0], spread.Median(with), with[len(with)-1])
		lmin, lmed, lmax := mmm(latRatio)
		cmin, cmed, cmax := mmm(cpuRatio)
		b.Logf("with/without, %d rounds of %d invokes: p50 latency min %.3f median %.3f max %.3f; CPU of this process min %.3f median %.3f max %.3f",
			rounds, perRound, lmin, lmed, lmax, cmin, cmed, cmax)
		b.ReportMetric(lmed, "p50-ratio")
		b.ReportMetric(cmed, "cpu-ratio")
	}
	b.ReportMetric(0, "ns/op")
}
