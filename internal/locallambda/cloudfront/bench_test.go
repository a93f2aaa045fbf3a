package cloudfront_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/sluice-cd/sluice/internal/bench/spread"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// BenchmarkEdgeAddedLatency measures what the edge proxy adds to a
// request: GET through the proxy with a viewer-request function (edge),
// against the same origin requested directly (origin) and against
// invoking the same function version directly with a viewer-request
// event through the local Lambda's Invoke API (invoke). The three are
// interleaved: each of SLUICE_BENCH_ROUNDS rounds (default 5) sends
// SLUICE_BENCH_REQUESTS (default 300) sequential requests of each kind,
// after a warm-up. Run it with -benchtime 1x; it logs every round and
// reports the median over rounds of each kind's p50 and p99.
func BenchmarkEdgeAddedLatency(b *testing.B) {
	rounds, requests := envInt("SLUICE_BENCH_ROUNDS", 5), envInt("SLUICE_BENCH_REQUESTS", 300)
	e := newEnv(b)
	ctx := context.Background()
	host, port := startOrigin(b)
	viewer := edgeFunction(b, e, "bench-viewer", "viewer-rewrite", 5)
	d := createDistribution(b, e.cf, distConfig("bench", host, port, assoc(viewer, types.EventTypeViewerRequest, false)))
	edge := startEdge(b, e)
	lc := lambdatest.BenchClient(e.srv.URL())
	edgeHost := localHost(d.Distribution.Id)
	originURL := "http://" + host + ":" + strconv.Itoa(int(port)) + "/items?id=7"
	event := []byte(`{"Records":[{"cf":{"config":{"distributionDomainName":"d1.cloudfront.net","distributionId":"` + aws.ToString(d.Distribution.Id) +
		`","eventType":"viewer-request","requestId":"r"},"request":{"clientIp":"127.0.0.1","headers":{"host":[{"key":"Host","value":"` + edgeHost +
		`"}],"x-greeting":[{"key":"X-Greeting","value":"hi"}]},"method":"GET","querystring":"id=7","uri":"/items"}}}]}`)
	plain := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}

	kinds := []struct {
		name string
		do   func() error
	}{
		{"origin", func() error {
			resp, err := plain.Get(originURL)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return status(resp, 200)
		}},
		{"invoke", func() error {
			out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(viewer), Payload: event})
			if err == nil && out.FunctionError != nil {
				err = fmt.Errorf("function error: %s", out.Payload)
			}
			return err
		}},
		{"edge", func() error {
			req, _ := http.NewRequest(http.MethodGet, "http://"+edge.addr+"/items?id=7", nil)
			req.Host = edgeHost
			req.Header.Set("X-Greeting", "hi")
			resp, err := edge.c.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return status(resp, 200)
		}},
	}
	for _, k := range kinds { // warm-up: connections, the function's environment
		for range 50 {
			if err := k.do(); err != nil {
				b.Fatalf("%s: %v", k.name, err)
			}
		}
	}
	p50s, p99s := map[string][]float64{}, map[string][]float64{}
	b.ResetTimer()
	for r := range rounds {
		for _, k := range kinds {
			lat := make([]time.Duration, 0, requests)
			for range requests {
				start := time.Now()
				if err := k.do(); err != nil {
					b.Fatalf("%s: %v", k.name, err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			p50, p99 := ms(lat[len(lat)/2]), ms(lat[min(len(lat)*99/100, len(lat)-1)])
			p50s[k.name], p99s[k.name] = append(p50s[k.name], p50), append(p99s[k.name], p99)
			b.Logf("round %d %-6s p50 %.3f ms p99 %.3f ms", r+1, k.name, p50, p99)
		}
	}
	b.StopTimer()
	for _, k := range kinds {
		b.Logf("%-6s p50 min/median/max %.3f/%.3f/%.3f ms, p99 %.3f/%.3f/%.3f ms", k.name,
			slices.Min(p50s[k.name]), spread.Median(p50s[k.name]), slices.Max(p50s[k.name]),
			slices.Min(p99s[k.name]), spread.Median(p99s[k.name]), slices.Max(p99s[k.name]))
		b.ReportMetric(spread.Median(p50s[k.name]), k.name+"-p50-ms")
		b.ReportMetric(spread.Median(p99s[k.name]), k.name+"-p99-ms")
	}
	var ratios []float64
	for r := range rounds {
		ratios = append(ratios, p50s["edge"][r]/(p50s["origin"][r]+p50s["invoke"][r]))
	}
	b.Logf("edge p50 / (origin p50 + invoke p50) per round min/median/max %.2f/%.2f/%.2f", slices.Min(ratios), spread.Median(ratios), slices.Max(ratios))
}

func status(resp *http.Response, want int) error {
	if resp.StatusCode != want {
		return fmt.Errorf("status %d, want %d", resp.StatusCode, want)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
