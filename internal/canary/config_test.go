package canary_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"golang.org/x/tools/txtar"
)

// TestConfigKayentaModel: Kayenta's integration-test config lands in the
// fields the judge and the Prometheus source will read.
func TestConfigKayentaModel(t *testing.T) {
	t.Parallel()
	ar, err := txtar.ParseFile("testdata/config/kayenta_prometheus_muted.txtar")
	if err != nil {
		t.Fatal(err)
	}
	input, _ := txtarSection(ar, "input.json")
	c, err := canary.ParseConfig(input)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(canary.ConfigValidateOptions{ForRun: true}); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if len(c.Metrics) != 2 {
		t.Fatalf("got %d metrics, want 2", len(c.Metrics))
	}
	m := c.Metrics[0]
	a := m.Analysis
	if m.Name != "Failing metric" || !a.Critical || !a.Muted || a.Direction != canary.DirectionIncrease || m.ScopeName != "default" {
		t.Errorf("metric 0 = %+v", m)
	}
	p := m.Query.Prometheus
	if m.Query.Type != canary.QueryPrometheus || p == nil || p.MetricName != "integration_failing_metric" || p.CustomFilterTemplate != "standard-template" {
		t.Errorf("query = %+v (prometheus %+v)", m.Query, p)
	}
	if got := c.Templates["standard-template"]; got != "namespace='${namespace}', scope='${scope}'" {
		t.Errorf("template = %q", got)
	}
	if got := c.Classifier.GroupWeights["pod-group"]; got != 100 || c.Judge.Name != canary.JudgeNetflixACA {
		t.Errorf("weight %v, judge %q", got, c.Judge.Name)
	}
}

// TestExampleLambdaConfig: the demo's config judges the error rate as a
// critical metric and every request's latency as a scored one.
func TestExampleLambdaConfig(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../examples/canary-configs/lambda-errors-latency.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := canary.ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	errRate, latency := c.Metrics[0], c.Metrics[1]
	if q := errRate.Query.Local; q == nil || q.Metric != canary.LocalErrorRate || !errRate.Analysis.Critical {
		t.Errorf("error rate metric = %+v", errRate)
	}
	if q := latency.Query.Local; q == nil || q.Metric != canary.LocalDuration || q.Percentile != nil || latency.Analysis.Critical {
		t.Errorf("latency metric = %+v", latency)
	}
	if w := c.Classifier.GroupWeights; w["errors"]+w["latency"] != 100 {
		t.Errorf("weights = %v", w)
	}
}

// The fuzz oracle's bounds: parsing and validating a document is linear
// work, so a generous multiple of its size in memory and a second of time
// are far above any honest run and far below a blow-up.
const (
	fuzzTimeLimit       = time.Second
	fuzzMemoryPerByte   = 200
	fuzzMemoryBaseBytes = 4 << 20
)

type usage struct {
	wall      time.Duration
	allocated uint64
}

func measure(fn func()) usage {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before, start := ms.TotalAlloc, time.Now()
	fn()
	wall := time.Since(start)
	runtime.ReadMemStats(&ms)
	return usage{wall: wall, allocated: ms.TotalAlloc - before}
}

// overLimits says how a run broke the oracle for an input of n bytes, or "".
func overLimits(u usage, n int) string {
	var over []string
	if u.wall > fuzzTimeLimit {
		over = append(over, fmt.Sprintf("took %v, over the %v limit", u.wall, fuzzTimeLimit))
	}
	if limit := uint64(fuzzMemoryBaseBytes + fuzzMemoryPerByte*n); u.allocated > limit {
		over = append(over, fmt.Sprintf("allocated %d bytes, over the cap of %d", u.allocated, limit))
	}
	return strings.Join(over, " and ")
}

// TestConfigOracleCanFail: the oracle sees memory and time, so a fuzz run
// that passes it means something.
func TestConfigOracleCanFail(t *testing.T) {
	t.Parallel()
	var sink []byte
	u := measure(func() { sink = make([]byte, 2*fuzzMemoryBaseBytes); sink[len(sink)-1] = 1 })
	if msg := overLimits(u, 0); !strings.Contains(msg, "over the cap") {
		t.Errorf("allocating %d bytes: oracle says %q", len(sink), msg)
	}
	if msg := overLimits(usage{wall: 2 * fuzzTimeLimit}, 0); !strings.Contains(msg, "over the") {
		t.Errorf("a run of %v: oracle says %q", 2*fuzzTimeLimit, msg)
	}
}

// FuzzParseConfig: ParseConfig, Validate and DiffConfigs never panic, stay
// within the oracle's time and memory, are deterministic, report every
// problem and warning on one line with a message, and a config differs
// from itself in nothing.
func FuzzParseConfig(f *testing.F) {
	files, err := filepath.Glob("testdata/config/*.txtar")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if input, ok := txtarSection(ar, "input.json"); ok {
			f.Add(input)
		}
	}
	f.Add([]byte(`{"metrics":[{"query":{"type":"prometheus","labelBindings":[1]}}],"classifier":{"groupWeights":{"":1e308,"a":1e308}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var first, second string
		u := measure(func() { first = parseAndValidate(t, data) })
		if msg := overLimits(u, len(data)); msg != "" {
			t.Fatalf("ParseConfig and Validate of %d bytes %s", len(data), msg)
		}
		second = parseAndValidate(t, data)
		if first != second {
			t.Fatalf("not deterministic:\n%s\n---\n%s", first, second)
		}
	})
}

// parseAndValidate returns everything ParseConfig and Validate say about
// data, checking the shape of each problem.
func parseAndValidate(t *testing.T, data []byte) string {
	c, err := canary.ParseConfig(data)
	if err != nil {
		if err.Error() == "" || strings.Contains(err.Error(), "\n") {
			t.Fatalf("parse error %q is empty or spans lines", err)
		}
		return err.Error()
	}
	var out []string
	check := func(kind string, ps []pipeline.Problem) {
		for _, p := range ps {
			if p.Msg == "" || strings.Contains(p.String(), "\n") {
				t.Fatalf("%s %q is empty or spans lines", kind, p.String())
			}
			out = append(out, kind+": "+p.String())
		}
	}
	if changes, err := canary.DiffConfigs(data, data); err != nil || len(changes) != 0 {
		t.Fatalf("DiffConfigs of a config with itself: %v, %v", changes, err)
	}
	check("warning", c.Warnings())
	for _, opts := range []canary.ConfigValidateOptions{{}, {ForRun: true}} {
		err := c.Validate(opts)
		if err == nil {
			continue
		}
		var ve *pipeline.ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) == 0 {
			t.Fatalf("Validate returned %v (%T), want a *pipeline.ValidationError with problems", err, err)
		}
		check("problem", ve.Problems)
	}
	return strings.Join(out, "\n")
}
