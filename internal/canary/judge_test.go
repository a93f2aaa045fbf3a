package canary_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/sluice-cd/sluice/internal/canary"
)

func ptr(v float64) *float64 { return &v }

// around returns n values spread evenly over [c − 1, c + 1]: a sample with
// no ties whose location is c.
func around(c float64, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = c - 1 + 2*float64(i)/float64(n-1)
	}
	return v
}

func nans(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

func rep(x float64, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = x
	}
	return v
}

// TestClassifyMetric has a case for each of Kayenta's per-metric rules
// (NetflixACAJudge.scala, MannWhitneyClassifier.scala).
func TestClassifyMetric(t *testing.T) {
	t.Parallel()
	ctl := around(100, 30)
	up := around(130, 30)  // clearly higher, mean ratio 1.3
	down := around(70, 30) // clearly lower, mean ratio 0.7
	near := around(100.05, 30)
	cases := []struct {
		name         string
		spec         canary.MetricSpec
		ctl, exp     []float64
		want         canary.Classification
		wantCritical bool
		wantReason   string
	}{
		{name: "no data, NaNs removed", ctl: ctl, exp: nans(5),
			want: canary.ClassNodata, wantReason: "Missing data for m"},
		{name: "no data, empty control", ctl: nil, exp: up,
			want: canary.ClassNodata},
		{name: "no data, critical keeps its flag", spec: canary.MetricSpec{Critical: true}, ctl: ctl, exp: nans(3),
			want: canary.ClassNodata, wantCritical: true},
		{name: "no data, mustHaveData fails the metric", spec: canary.MetricSpec{MustHaveData: true}, ctl: ctl, exp: nil,
			want: canary.ClassNodataFailMetric},
		{name: "no data, mustHaveData and critical is critical Nodata", spec: canary.MetricSpec{MustHaveData: true, Critical: true}, ctl: ctl, exp: nil,
			want: canary.ClassNodata, wantCritical: true},
		{name: "no data with replace passes", spec: canary.MetricSpec{NaNStrategy: canary.NaNReplace}, ctl: ctl, exp: nil,
			want: canary.ClassPass},
		{name: "unknown NaN strategy removes", spec: canary.MetricSpec{NaNStrategy: "zero"}, ctl: ctl, exp: nans(4),
			want: canary.ClassNodata},
		{name: "NaNs replaced by zero drag the experiment down", spec: canary.MetricSpec{NaNStrategy: canary.NaNReplace},
			ctl: ctl, exp: slices.Concat(near, nans(90)), want: canary.ClassLow},
		{name: "NaNs removed leave the experiment as it is", spec: canary.MetricSpec{NaNStrategy: canary.NaNRemove},
			ctl: ctl, exp: slices.Concat(near, nans(90)), want: canary.ClassPass},
		{name: "identical samples in another order", ctl: []float64{3, 1, 2}, exp: []float64{2, 3, 1},
			want: canary.ClassPass, wantReason: "The Canary and Baseline data are identical"},
		{name: "one value across both sides", ctl: rep(5, 4), exp: rep(5, 7), want: canary.ClassPass},
		{name: "each side constant: noise, then High", ctl: rep(10, 20), exp: rep(20, 20), want: canary.ClassHigh},
		{name: "no difference", ctl: ctl, exp: near, want: canary.ClassPass},
		{name: "increase, direction either", ctl: ctl, exp: up, want: canary.ClassHigh},
		{name: "increase, direction increase", spec: canary.MetricSpec{Direction: canary.DirectionIncrease}, ctl: ctl, exp: up, want: canary.ClassHigh},
		{name: "increase, direction decrease", spec: canary.MetricSpec{Direction: canary.DirectionDecrease}, ctl: ctl, exp: up, want: canary.ClassPass},
		{name: "decrease, direction either", ctl: ctl, exp: down, want: canary.ClassLow},
		{name: "decrease, direction increase", spec: canary.MetricSpec{Direction: canary.DirectionIncrease}, ctl: ctl, exp: down, want: canary.ClassPass},
		{name: "unknown direction is either", spec: canary.MetricSpec{Direction: "sideways"}, ctl: ctl, exp: down, want: canary.ClassLow},
		{name: "increase below allowedIncrease", spec: canary.MetricSpec{EffectSize: canary.EffectSize{AllowedIncrease: ptr(1.5)}},
			ctl: ctl, exp: up, want: canary.ClassPass},
		{name: "increase at allowedIncrease", spec: canary.MetricSpec{EffectSize: canary.EffectSize{AllowedIncrease: ptr(1.3)}},
			ctl: ctl, exp: up, want: canary.ClassHigh},
		{name: "decrease above allowedDecrease", spec: canary.MetricSpec{EffectSize: canary.EffectSize{AllowedDecrease: ptr(0.5)}},
			ctl: ctl, exp: down, want: canary.ClassPass},
		{name: "mean ratio NaN (control mean 0) ignores allowedIncrease", spec: canary.MetricSpec{EffectSize: canary.EffectSize{AllowedIncrease: ptr(100)}},
			ctl: rep(0, 20), exp: around(5, 20), want: canary.ClassHigh},
		{name: "critical High beyond criticalIncrease", spec: canary.MetricSpec{Critical: true, EffectSize: canary.EffectSize{CriticalIncrease: ptr(1.2)}},
			ctl: ctl, exp: up, want: canary.ClassHigh, wantCritical: true, wantReason: "The metric m was classified as High (Critical)"},
		{name: "critical High within criticalIncrease", spec: canary.MetricSpec{Critical: true, EffectSize: canary.EffectSize{CriticalIncrease: ptr(1.5)}},
			ctl: ctl, exp: up, want: canary.ClassHigh, wantReason: "m was classified as High"},
		{name: "critical Low beyond criticalDecrease", spec: canary.MetricSpec{Critical: true, EffectSize: canary.EffectSize{CriticalDecrease: ptr(0.8)}},
			ctl: ctl, exp: down, want: canary.ClassLow, wantCritical: true},
		{name: "critical Low within criticalDecrease", spec: canary.MetricSpec{Critical: true, EffectSize: canary.EffectSize{CriticalDecrease: ptr(0.5)}},
			ctl: ctl, exp: down, want: canary.ClassLow},
		{name: "critical Pass is not critical", spec: canary.MetricSpec{Critical: true}, ctl: ctl, exp: near, want: canary.ClassPass},
		{name: "cles: all pairs higher is 1.0 ≥ 0.5", spec: canary.MetricSpec{EffectSize: canary.EffectSize{Measure: canary.EffectCLES}},
			ctl: ctl, exp: up, want: canary.ClassHigh},
		{name: "cles default bound 0.5: most pairs higher is High", spec: canary.MetricSpec{EffectSize: canary.EffectSize{Measure: canary.EffectCLES}},
			ctl: around(100, 30), exp: around(100.8, 30), want: canary.ClassHigh},
		{name: "significant but within a quarter of the estimate", spec: canary.MetricSpec{NaNStrategy: canary.NaNReplace},
			ctl: ctl, exp: slices.Concat(near, nans(30)), want: canary.ClassPass},
		{name: "cles below allowedIncrease", spec: canary.MetricSpec{EffectSize: canary.EffectSize{Measure: canary.EffectCLES, AllowedIncrease: ptr(0.99)}},
			ctl: around(100, 30), exp: around(101, 30), want: canary.ClassPass},
		{name: "a single value each side cannot be tested", ctl: []float64{3}, exp: []float64{5}, want: canary.ClassError},
		{name: "infinite samples cannot be tested", ctl: ctl, exp: slices.Concat(up, []float64{math.Inf(1)}), want: canary.ClassError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.spec.Name = "m"
			got, err := canary.ClassifyMetric(canary.MetricSamples{Metric: c.spec, Control: c.ctl, Experiment: c.exp})
			if err != nil {
				t.Fatalf("ClassifyMetric: %v", err)
			}
			if got.Classification != c.want || got.Critical != c.wantCritical {
				t.Errorf("classification %s critical %v, want %s critical %v (reason %q, effect %v, test %+v)",
					got.Classification, got.Critical, c.want, c.wantCritical, got.Reason, got.EffectSize, got.Test)
			}
			if c.wantReason != "" && got.Reason != c.wantReason {
				t.Errorf("reason %q, want %q", got.Reason, c.wantReason)
			}
		})
	}
}

func TestClassifyMetricReplacesNaNWithZero(t *testing.T) {
	t.Parallel()
	got, err := canary.ClassifyMetric(canary.MetricSamples{
		Metric:  canary.MetricSpec{Name: "m", NaNStrategy: canary.NaNReplace},
		Control: []float64{4, 5, 6}, Experiment: []float64{math.NaN(), 6, 8},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := canary.Stats{Count: 3, Mean: 14.0 / 3, Median: 6, Min: 0, Max: 8, Q1: 3, Q3: 7}
	if got.Experiment != want {
		t.Errorf("experiment stats %+v, want %+v", got.Experiment, want)
	}
}

func TestClassifyMetricOutliers(t *testing.T) {
	t.Parallel()
	exp := slices.Concat(around(100, 40), []float64{1e6})
	for _, c := range []struct {
		outliers  canary.Outliers
		wantCount int
	}{
		{canary.Outliers{}, 41},                                // keep by default
		{canary.Outliers{Strategy: "keep"}, 41},                // keep
		{canary.Outliers{Strategy: "remove"}, 40},              // factor 3: 1e6 is outside
		{canary.Outliers{Strategy: "remove", Factor: 1e6}, 41}, // a fence wide enough to keep it
	} {
		got, err := canary.ClassifyMetric(canary.MetricSamples{
			Metric:     canary.MetricSpec{Name: "m", Outliers: c.outliers},
			Control:    around(100, 40),
			Experiment: exp,
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.Experiment.Count != c.wantCount || got.Control.Count != 40 {
			t.Errorf("outliers %+v: experiment count %d, control count %d; want %d and 40",
				c.outliers, got.Experiment.Count, got.Control.Count, c.wantCount)
		}
	}
	// Kayenta's IQRDetector requires a positive factor and fails the judgment.
	_, err := canary.ClassifyMetric(canary.MetricSamples{
		Metric:  canary.MetricSpec{Name: "m", Outliers: canary.Outliers{Strategy: "remove", Factor: -1}},
		Control: around(1, 5), Experiment: around(1, 5),
	})
	if err == nil {
		t.Error("negative outlier factor: want an error")
	}
}

func res(name string, class canary.Classification, groups ...string) canary.MetricResult {
	return canary.MetricResult{Name: name, Classification: class, Groups: groups}
}

// TestScore has a case for each of WeightedSumScorer's rules.
func TestScore(t *testing.T) {
	t.Parallel()
	critical := func(r canary.MetricResult) canary.MetricResult { r.Critical = true; return r }
	muted := func(r canary.MetricResult) canary.MetricResult { r.Muted = true; return r }
	cases := []struct {
		name       string
		results    []canary.MetricResult
		weights    map[string]float64
		want       float64
		wantReason bool
	}{
		{name: "all pass", results: []canary.MetricResult{res("a", canary.ClassPass, "g")}, want: 100},
		{name: "no metrics scores 0", want: 0},
		{name: "group score is the share of Pass",
			results: []canary.MetricResult{res("a", canary.ClassPass, "g"), res("b", canary.ClassHigh, "g"), res("c", canary.ClassLow, "g"), res("d", canary.ClassPass, "g")},
			want:    50},
		{name: "no weights: equal split",
			results: []canary.MetricResult{res("a", canary.ClassPass, "errors"), res("b", canary.ClassHigh, "latency")},
			want:    50},
		{name: "configured weights",
			results: []canary.MetricResult{res("a", canary.ClassPass, "errors"), res("b", canary.ClassHigh, "latency")},
			weights: map[string]float64{"errors": 60, "latency": 40}, want: 60},
		{name: "unweighted groups share the rest",
			results: []canary.MetricResult{res("a", canary.ClassHigh, "a"), res("b", canary.ClassPass, "b"), res("c", canary.ClassPass, "c")},
			weights: map[string]float64{"a": 50}, want: 50},
		{name: "weights of groups without results still take their share",
			results: []canary.MetricResult{res("b", canary.ClassPass, "b")},
			weights: map[string]float64{"a": 70}, want: 30},
		{name: "Nodata and Error are not counted; a group of them counts 100",
			results: []canary.MetricResult{res("a", canary.ClassHigh, "x"), res("b", canary.ClassError, "y"), res("c", canary.ClassPass, "x"), res("d", canary.ClassPass, "z")},
			want:    83.33}, // (50 + 100 + 100)/3, rounded
		{name: "NodataFailMetric counts as a failure",
			results: []canary.MetricResult{res("a", canary.ClassNodataFailMetric, "g"), res("b", canary.ClassPass, "g")},
			want:    50},
		{name: "a metric in two groups counts in both",
			results: []canary.MetricResult{res("a", canary.ClassHigh, "x", "y"), res("b", canary.ClassPass, "y")},
			want:    25},
		{name: "a metric with no group counts in none",
			results: []canary.MetricResult{res("a", canary.ClassHigh), res("b", canary.ClassPass, "g")},
			want:    100},
		{name: "critical failure forces 0",
			results: []canary.MetricResult{critical(res("a", canary.ClassHigh, "x")), res("b", canary.ClassPass, "y"), res("c", canary.ClassPass, "y")},
			want:    0, wantReason: true},
		{name: "critical Nodata forces 0",
			results: []canary.MetricResult{critical(res("a", canary.ClassNodata, "x")), res("b", canary.ClassPass, "y"), res("c", canary.ClassPass, "y")},
			want:    0, wantReason: true},
		{name: "muted metrics are left out, even critical ones",
			results: []canary.MetricResult{muted(critical(res("a", canary.ClassHigh, "g"))), muted(res("b", canary.ClassHigh, "g")), res("c", canary.ClassPass, "g")},
			want:    100},
		{name: "half Nodata forces 0",
			results: []canary.MetricResult{res("a", canary.ClassNodata, "g"), res("b", canary.ClassPass, "g")},
			want:    0, wantReason: true},
		{name: "a third Nodata does not",
			results: []canary.MetricResult{res("a", canary.ClassNodata, "g"), res("b", canary.ClassPass, "g"), res("c", canary.ClassPass, "g")},
			want:    100},
		{name: "rounded to two decimals",
			results: []canary.MetricResult{res("a", canary.ClassPass, "a"), res("b", canary.ClassHigh, "b"), res("c", canary.ClassHigh, "c")},
			want:    33.33},
		{name: "halves round up on the decimal form (2.675 → 2.68)",
			results: []canary.MetricResult{res("a", canary.ClassPass, "a"), res("b", canary.ClassHigh, "b")},
			weights: map[string]float64{"a": 2.675, "b": 97.325}, want: 2.68},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := canary.Score(c.results, c.weights)
			if math.Abs(got.Score-c.want) > 1e-9 {
				t.Errorf("score %v, want %v (groups %+v)", got.Score, c.want, got.Groups)
			}
			if (got.Reason != "") != c.wantReason {
				t.Errorf("reason %q, want a reason: %v", got.Reason, c.wantReason)
			}
		})
	}
}

func TestScoreGroups(t *testing.T) {
	t.Parallel()
	got := canary.Score([]canary.MetricResult{
		res("a", canary.ClassPass, "latency"), res("b", canary.ClassLow, "latency"),
		res("c", canary.ClassNodata, "errors"), res("d", canary.ClassPass, "errors"), res("e", canary.ClassPass, "errors"),
	}, nil)
	want := []canary.GroupScore{
		{Name: "errors", Score: 100, Counts: map[canary.Classification]int{canary.ClassNodata: 1, canary.ClassPass: 2}},
		{Name: "latency", Score: 50, Counts: map[canary.Classification]int{canary.ClassPass: 1, canary.ClassLow: 1}},
	}
	if len(got.Groups) != len(want) {
		t.Fatalf("groups %+v, want %+v", got.Groups, want)
	}
	for i := range want {
		g, w := got.Groups[i], want[i]
		if g.Name != w.Name || g.Score != w.Score || g.NoData != w.NoData || len(g.Counts) != len(w.Counts) {
			t.Errorf("group %d = %+v, want %+v", i, g, w)
		}
		for k, v := range w.Counts {
			if g.Counts[k] != v {
				t.Errorf("group %s count of %s = %d, want %d", g.Name, k, g.Counts[k], v)
			}
		}
	}
	if got.Score != 75 {
		t.Errorf("score %v, want 75", got.Score)
	}
}

// TestThresholds pins the boundaries: Kayenta labels a score equal to the
// marginal threshold Marginal, Orca fails it.
func TestThresholds(t *testing.T) {
	t.Parallel()
	th := canary.Thresholds{Pass: 75, Marginal: 50}
	for _, c := range []struct {
		score        float64
		wantClass    canary.ScoreClassification
		wantInterval bool
		wantFinal    error
	}{
		{100, canary.ScorePass, true, nil},
		{75, canary.ScorePass, true, nil},
		{74.99, canary.ScoreMarginal, true, canary.ErrBelowPass},
		{50.01, canary.ScoreMarginal, true, canary.ErrBelowPass},
		{50, canary.ScoreMarginal, false, canary.ErrNotAboveMarginal},
		{49.99, canary.ScoreFail, false, canary.ErrNotAboveMarginal},
		{0, canary.ScoreFail, false, canary.ErrNotAboveMarginal},
	} {
		if got := canary.ClassifyScore(c.score, th); got != c.wantClass {
			t.Errorf("ClassifyScore(%v) = %s, want %s", c.score, got, c.wantClass)
		}
		if got := canary.IntervalSucceeded(c.score, th); got != c.wantInterval {
			t.Errorf("IntervalSucceeded(%v) = %v, want %v", c.score, got, c.wantInterval)
		}
		if err := canary.FinalVerdict([]float64{0, c.score}, th); !errors.Is(err, c.wantFinal) || (err == nil) != (c.wantFinal == nil) {
			t.Errorf("FinalVerdict(..., %v) = %v, want %v", c.score, err, c.wantFinal)
		}
	}
	// Only the last interval counts for the final verdict.
	if err := canary.FinalVerdict([]float64{100, 10}, th); !errors.Is(err, canary.ErrNotAboveMarginal) {
		t.Errorf("FinalVerdict(100, 10) = %v, want %v", err, canary.ErrNotAboveMarginal)
	}
	if err := canary.FinalVerdict(nil, th); err == nil {
		t.Error("FinalVerdict(no scores): want an error")
	}
}

// TestJudge runs a whole interval: a critical error-rate regression fails
// the canary although the latency group passes.
func TestJudge(t *testing.T) {
	t.Parallel()
	ctl := around(100, 30)
	metrics := []canary.MetricSamples{
		{Metric: canary.MetricSpec{Name: "latency", Groups: []string{"latency"}, Direction: canary.DirectionIncrease}, Control: ctl, Experiment: around(100.05, 30)},
		{Metric: canary.MetricSpec{Name: "errors", Groups: []string{"errors"}, Direction: canary.DirectionIncrease}, Control: ctl, Experiment: around(130, 30)},
	}
	th := canary.Thresholds{Pass: 75, Marginal: 50}
	got, err := canary.Judge(metrics, map[string]float64{"latency": 60, "errors": 40}, th)
	if err != nil {
		t.Fatal(err)
	}
	if got.Score != 60 || got.Classification != canary.ScoreMarginal {
		t.Errorf("score %v %s, want 60 Marginal", got.Score, got.Classification)
	}
	metrics[1].Metric.Critical = true
	got, err = canary.Judge(metrics, map[string]float64{"latency": 60, "errors": 40}, th)
	if err != nil {
		t.Fatal(err)
	}
	if got.Score != 0 || got.Classification != canary.ScoreFail || got.Reason == "" {
		t.Errorf("critical: score %v %s reason %q, want 0 Fail with a reason", got.Score, got.Classification, got.Reason)
	}
}
