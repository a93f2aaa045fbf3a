package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-cd/sluice/internal/locallambda"
)

// traffic invokes a function's alias from a few goroutines, as live users
// would, until stopped.
type traffic struct {
	invokes, errors atomic.Int64
	stop            context.CancelFunc
	done            sync.WaitGroup
}

// sendTraffic starts invoking fn:alias about perSecond times a second.
func sendTraffic(ctx context.Context, c *lambda.Client, fn, alias string, perSecond int) *traffic {
	ctx, stop := context.WithCancel(ctx)
	tr := &traffic{stop: stop}
	const workers = 4
	every := time.Second * workers / time.Duration(perSecond)
	for range workers {
		tr.done.Go(func() {
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Qualifier: aws.String(alias),
					Payload: []byte(`{"from":"sluice demo"}`)})
				if ctx.Err() != nil {
					return
				}
				tr.invokes.Add(1)
				if err != nil || out.FunctionError != nil {
					tr.errors.Add(1)
				}
			}
		})
	}
	return tr
}

func (tr *traffic) close() {
	tr.stop()
	tr.done.Wait()
}

// trafficSplit reads the local Lambda's per-version metrics of fn invoked
// through alias over the last window and describes the split, e.g.
// "version 1: 91% (182 invokes, 0 errors) · version 2: 9% (18 invokes, 0 errors)".
func trafficSplit(ctx context.Context, lambdaURL, fn, alias string, window time.Duration) (string, error) {
	q := url.Values{"function": {fn}, "qualifier": {alias}, "since": {window.String()}, "step": {window.String()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, lambdaURL+"/_locallambda/metrics/query?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("query the local lambda's metrics: %w", err)
	}
	defer resp.Body.Close()
	var m locallambda.MetricsQuery
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return "", fmt.Errorf("query the local lambda's metrics: %w", err)
	}
	type count struct{ invokes, errors int64 }
	counts := map[string]count{}
	var total int64
	for _, s := range m.Series {
		c := counts[s.Version]
		for _, p := range s.Points {
			c.invokes += p.Invocations
			c.errors += p.Errors
		}
		counts[s.Version] = c
		total += c.invokes
	}
	if total == 0 {
		return "no invocations yet", nil
	}
	versions := slices.Sorted(maps.Keys(counts))
	parts := make([]string, 0, len(versions))
	for _, v := range versions {
		c := counts[v]
		parts = append(parts, fmt.Sprintf("version %s: %.0f%% (%d invokes, %d errors)", v, 100*float64(c.invokes)/float64(total), c.invokes, c.errors))
	}
	return strings.Join(parts, " · "), nil
}
