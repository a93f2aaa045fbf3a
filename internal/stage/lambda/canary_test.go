package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/status"
)

// savedConfigs is a store of canary configs for the stage tests; the
// server's, over the database, is node's.
type savedConfigs map[string]canary.Saved

func (s savedConfigs) CanaryConfig(_ context.Context, ref string) (canary.Saved, error) {
	if c, ok := s[ref]; ok {
		return c, nil
	}
	return canary.Saved{}, fmt.Errorf("no canary config is named %q", ref)
}

// exampleConfigs holds the example canary config, saved as revision 1.
func exampleConfigs(t testing.TB) savedConfigs {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "canary-configs", "lambda-errors-latency.json"))
	if err != nil {
		t.Fatal(err)
	}
	return savedConfigs{"lambda-errors-latency": {ID: "c1", Name: "lambda-errors-latency", Revision: 1, Document: doc}}
}

// canaryEnv is a function with two published versions behind alias
// live, half the traffic each: version 1 healthy, version 2 with the
// given failure rate.
type canaryEnv struct {
	env    *localEnv
	fn     *fnFixture
	v1, v2 string
	typ    *stageType[canarySpec, *canarySpec]
}

func newCanaryEnv(t *testing.T, failureRate string) *canaryEnv {
	t.Helper()
	env := newLocalEnv(t)
	fn := newFixture(t, env, "hello", helloZip(t), nil)
	// Each invocation takes 5 ms, as a function's work would: sub-
	// millisecond durations differ by tens of percent between two
	// processes of the same code.
	v1 := fn.publish(map[string]string{"HELLO_VERSION": "v1", "LATENCY_MS": "5"}, "")
	v2 := fn.publish(map[string]string{"HELLO_VERSION": "v2", "LATENCY_MS": "5", "FAILURE_RATE": failureRate}, "")
	fn.setAlias("live", v1, map[string]float64{v2: 0.5})
	typ := typeWith(t, KayentaCanaryTypeName, Options{Accounts: env.accounts,
		Analysis: Analysis{Configs: exampleConfigs(t), LocalLambdaURL: env.srv.URL()}})
	return &canaryEnv{env: env, fn: fn, v1: v1, v2: v2, typ: typ.(*stageType[canarySpec, *canarySpec])}
}

// traffic invokes alias live from four clients until stop is called (or
// the test ends), and returns how many invocations were made.
func (c *canaryEnv) traffic(t *testing.T) (stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var n atomic.Int64
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, err := c.env.c.Invoke(ctx, &lambda.InvokeInput{
					FunctionName: aws.String(c.fn.name), Qualifier: aws.String("live"), Payload: []byte(`{}`)})
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("invoke live: %v", err)
					}
					return
				}
				n.Add(1)
			}
		})
	}
	var once sync.Once
	stop = func() int {
		once.Do(func() { cancel(); wg.Wait() })
		return int(n.Load())
	}
	t.Cleanup(func() { stop() })
	return stop
}

func canaryFields(more map[string]any) map[string]any {
	cc := map[string]any{
		"canaryConfigName": "lambda-errors-latency",
		"scopes":           []any{map[string]any{"controlScope": "$PREVIOUS", "experimentScope": "$LATEST", "step": 0.25}},
		"scoreThresholds":  map[string]any{"pass": "75", "marginal": "50"},
		"lifetimeDuration": "PT3S",
		// Deck writes numbers as strings; 1 s intervals, of 0.25 s samples:
		// enough requests of each version per sample on a loaded machine.
		"canaryAnalysisIntervalMins": fmt.Sprint(1.0 / 60),
	}
	f := map[string]any{"functionName": "hello", "aliasName": "live", "canaryConfig": cc}
	for k, v := range more {
		if m, ok := v.(map[string]any); ok && k == "canaryConfig" {
			for ck, cv := range m {
				cc[ck] = cv
			}
			continue
		}
		f[k] = v
	}
	return f
}

func reportOf(t *testing.T, outputs map[string]any) canary.Report {
	t.Helper()
	b, err := json.Marshal(outputs[canary.ReportKey])
	if err != nil {
		t.Fatal(err)
	}
	var rep canary.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("canaryReport %s: %v", b, err)
	}
	return rep
}

// TestKayentaCanaryFailsABadVersion: version 2 fails every request
// while both serve alias live; the first interval's critical error-rate
// metric fails the stage, which names the metric and both versions and
// records Orca's outputs and the report.
func TestKayentaCanaryFailsABadVersion(t *testing.T) {
	t.Parallel()
	c := newCanaryEnv(t, "1")
	stop := c.traffic(t)
	r := newStageRun(t, c.typ, fixtureApp, canaryFields(nil))
	res := r.all()
	if n := stop(); n == 0 {
		t.Fatal("no invocation reached the alias")
	}
	if res.Status != status.Terminal {
		t.Fatalf("status %s (%s); want TERMINAL", res.Status, res.Error)
	}
	for _, want := range []string{" of 3 scored 0, not above the marginal threshold 50", "error rate High (control mean 0, experiment mean ", ", critical", "control demo-hello version " + c.v1, "experiment version " + c.v2, "alias live"} {
		if !strings.Contains(res.Error, want) {
			t.Errorf("error %q does not say %q", res.Error, want)
		}
	}
	rep := reportOf(t, r.outputs)
	// The stage stops at the first interval that fails: the last judged.
	n := len(rep.Intervals)
	if n == 0 || rep.Decision == nil || rep.Decision.Result != canary.DecisionFail || rep.PlannedIntervals != 3 ||
		!strings.Contains(res.Error, fmt.Sprintf("interval %d of 3", n)) || rep.Intervals[n-1].Score != 0 {
		t.Fatalf("report: %d intervals of %d, decision %+v; want the last judged to fail the stage with 0", n, rep.PlannedIntervals, rep.Decision)
	}
	if rep.Control.Version != c.v1 || rep.Experiment.Version != c.v2 || rep.Control.Selector != "$PREVIOUS" {
		t.Errorf("report scopes %+v / %+v", rep.Control, rep.Experiment)
	}
	if got, _ := r.outputs["canaryScores"].([]any); len(got) != n || r.outputs["canaryScore"] != 0.0 || r.outputs["canaryResult"] != "fail" {
		t.Errorf("outputs canaryScores %v canaryScore %v canaryResult %v; want %d scores ending in 0, 0, fail", got, r.outputs["canaryScore"], r.outputs["canaryResult"], n)
	}
}

// TestKayentaCanaryPassesAGoodVersion: two versions that behave alike are
// judged over all three intervals, each when it ends, and pass.
func TestKayentaCanaryPassesAGoodVersion(t *testing.T) {
	t.Parallel()
	c := newCanaryEnv(t, "0")
	stop := c.traffic(t)
	r := newStageRun(t, c.typ, fixtureApp, canaryFields(nil))
	start := time.Now()
	res := r.all()
	stop()
	if res.Status != status.Succeeded {
		t.Fatalf("status %s (%s); want SUCCEEDED", res.Status, res.Error)
	}
	rep := reportOf(t, r.outputs)
	if len(rep.Intervals) != 3 || rep.Decision == nil || rep.Decision.Result != canary.DecisionPass {
		t.Fatalf("report: %d intervals, decision %+v; want 3 and pass", len(rep.Intervals), rep.Decision)
	}
	for i, iv := range rep.Intervals {
		// Orca's growing window: every interval starts when the analysis did.
		if !iv.Start.Equal(rep.Intervals[0].Start) || iv.End.Sub(iv.Start) != time.Duration(i+1)*time.Second {
			t.Errorf("interval %d is [%s, %s); want the window to grow by 1 s per interval", i+1, iv.Start, iv.End)
		}
		if iv.End.Before(start) || iv.Score < 75 {
			t.Errorf("interval %d: end %s, score %v (%s)", i+1, iv.End, iv.Score, iv.Explain())
		}
	}
	if r.runs["kayentaAnalyze"] < 3 {
		t.Errorf("the analysis task ran %d times; want once per interval at least", r.runs["kayentaAnalyze"])
	}
}

// TestKayentaCanaryRefusesWhatItCannotDo: documents get errors naming the
// field: no config, a missing lifetime, two scopes, Orca's deployments,
// and a config or version that does not exist at run time.
func TestKayentaCanaryRefusesWhatItCannotDo(t *testing.T) {
	t.Parallel()
	typ := typeWith(t, KayentaCanaryTypeName, Options{})
	for _, tt := range []struct {
		name   string
		fields map[string]any
		want   string
	}{
		{"no config", map[string]any{"functionName": "f", "canaryConfig": map[string]any{"lifetimeDuration": "PT1H",
			"scopes": []any{map[string]any{"controlScope": "1", "experimentScope": "2"}}}}, "canaryConfig.canaryConfigName: is required"},
		{"no lifetime", canaryFields(map[string]any{"canaryConfig": map[string]any{"lifetimeDuration": nil}}), "canaryConfig.lifetimeDuration: is required"},
		{"bad lifetime", canaryFields(map[string]any{"canaryConfig": map[string]any{"lifetimeDuration": "P1M"}}), "canaryConfig.lifetimeDuration: must be a positive duration in days"},
		{"two scopes", canaryFields(map[string]any{"canaryConfig": map[string]any{"scopes": []any{
			map[string]any{"controlScope": "1", "experimentScope": "2"}, map[string]any{"controlScope": "1", "experimentScope": "3"}}}}), "has 2 scopes"},
		{"deployments", canaryFields(map[string]any{"deployments": map[string]any{"serverGroupPairs": []any{}}}), "deployments: is not supported"},
		{"thresholds", canaryFields(map[string]any{"canaryConfig": map[string]any{"scoreThresholds": map[string]any{"pass": 40, "marginal": 60}}}), "above pass"},
	} {
		errs := typ.Validate(tt.fields)
		if !strings.Contains(fmt.Sprint(errs), tt.want) {
			t.Errorf("%s: Validate = %v; want %q", tt.name, errs, tt.want)
		}
	}

	c := newCanaryEnv(t, "0")
	for _, tt := range []struct {
		name   string
		fields map[string]any
		want   string
	}{
		{"unknown config", canaryFields(map[string]any{"canaryConfig": map[string]any{"canaryConfigName": "nope"}}), `canaryConfig.canaryConfigName: no canary config is named "nope"`},
		{"unknown version", canaryFields(map[string]any{"canaryConfig": map[string]any{"scopes": []any{map[string]any{"controlScope": "9", "experimentScope": "$LATEST"}}}}),
			"canaryConfig.scopes[0].controlScope: version 9 names no version of demo-hello: its published versions are 1, 2"},
		{"same version", canaryFields(map[string]any{"canaryConfig": map[string]any{"scopes": []any{map[string]any{"controlScope": "2", "experimentScope": "$LATEST"}}}}),
			"are both version 2"},
	} {
		if got := newStageRun(t, c.typ, fixtureApp, tt.fields).mustFail(); !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q; want %q", tt.name, got, tt.want)
		}
	}
}

// TestKayentaCanarySequentialFailsFast: with Sluice's sequential judges a
// version that fails half its requests is failed within seconds of a
// thirty-second analysis, before its first interval ends, by the
// always-valid error-rate judge; the report says what it counted.
func TestKayentaCanarySequentialFailsFast(t *testing.T) {
	t.Parallel()
	c := newCanaryEnv(t, "0.5")
	c.traffic(t)
	r := newStageRun(t, c.typ, fixtureApp, canaryFields(map[string]any{"canaryConfig": map[string]any{
		"lifetimeDuration": "PT30S", "canaryAnalysisIntervalMins": 0.5,
		"sequential": map[string]any{"lookSeconds": 0.2, "tolerableErrorRateIncrease": 0.05},
	}}))
	res := r.all()
	if res.Status != status.Terminal {
		t.Fatalf("status %s (%s); want TERMINAL", res.Status, res.Error)
	}
	for _, want := range []string{"canary failed: sequential judges after", "error rate FAIL: version " + c.v2 + " failed", "version " + c.v1 + " 0 of"} {
		if !strings.Contains(res.Error, want) {
			t.Errorf("error %q does not say %q", res.Error, want)
		}
	}
	rep := reportOf(t, r.outputs)
	if rep.Mode != canary.ModeSequential || len(rep.Intervals) != 0 || rep.Sequential == nil || rep.Sequential.ErrorRate == nil ||
		rep.Sequential.ErrorRate.Decision != "FAIL" || rep.Sequential.ErrorRate.ExperimentErrors == 0 || rep.Decision == nil || rep.Decision.Score != nil {
		t.Errorf("report %+v; want a sequential FAIL before any interval, with no score", rep)
	}
}

// TestKayentaCanarySequentialUndecidedFallsBack: two versions without
// errors leave the error-rate judge undecided; Kayenta's intervals decide,
// and the report keeps what the sequential judges saw.
func TestKayentaCanarySequentialUndecidedFallsBack(t *testing.T) {
	t.Parallel()
	c := newCanaryEnv(t, "0")
	c.traffic(t)
	// α of 0.001: the latency judge may pass or stay undecided on two
	// alike versions, and fails them wrongly once in a thousand runs.
	r := newStageRun(t, c.typ, fixtureApp, canaryFields(map[string]any{"canaryConfig": map[string]any{
		"sequential": map[string]any{"lookSeconds": 0.2, "alpha": 0.001},
	}}))
	out := r.mustSucceed()
	rep := reportOf(t, out)
	if len(rep.Intervals) != 3 || rep.Sequential == nil || rep.Sequential.Looks < 2 || rep.Sequential.ErrorRate.Decision != "CONTINUE" ||
		rep.Decision == nil || rep.Decision.Result != canary.DecisionPass || rep.Decision.Score == nil {
		t.Errorf("report %+v; want three intervals deciding pass with a score, the error-rate judge undecided", rep)
	}
}
