package canary

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
)

// JudgeName is the judge this file implements, as canary configs name it.
const JudgeName = "NetflixACAJudge-v1.0"

// Direction is the change of a metric that counts against the experiment
// (analysisConfigurations.canary.direction).
type Direction string

// Directions; anything else, and the zero value, means DirectionEither, as
// Kayenta's MetricDirection.parse.
const (
	DirectionIncrease Direction = "increase"
	DirectionDecrease Direction = "decrease"
	DirectionEither   Direction = "either"
)

// NaNStrategy says what happens to NaN samples (analysisConfigurations.
// canary.nanStrategy).
type NaNStrategy string

// NaN strategies; anything else, and the zero value, means NaNRemove, as
// Kayenta's NaNStrategy.parse.
const (
	NaNRemove  NaNStrategy = "remove"
	NaNReplace NaNStrategy = "replace" // with 0.0
)

// EffectMeasure names the effect size compared with the allowed and critical
// bounds (analysisConfigurations.canary.effectSize.measure).
type EffectMeasure string

// Effect measures; anything but "cles", and the zero value, means
// EffectMeanRatio, as NetflixACAJudge.scala reads it.
const (
	EffectMeanRatio EffectMeasure = "meanRatio"
	EffectCLES      EffectMeasure = "cles"
)

// Classification is a metric's verdict; the values are Kayenta's labels.
type Classification string

// Metric classifications (BaseMetricClassifier.scala).
const (
	ClassPass             Classification = "Pass"
	ClassHigh             Classification = "High"
	ClassLow              Classification = "Low"
	ClassNodataFailMetric Classification = "NodataFailMetric"
	ClassNodata           Classification = "Nodata"
	ClassError            Classification = "Error"
)

// ScoreClassification is the verdict on the summary score.
type ScoreClassification string

// Score classifications (ThresholdScoreClassifier.scala).
const (
	ScorePass     ScoreClassification = "Pass"
	ScoreMarginal ScoreClassification = "Marginal"
	ScoreFail     ScoreClassification = "Fail"
)

// EffectSize bounds how large a significant change must be to count
// (analysisConfigurations.canary.effectSize). A nil bound takes Kayenta's
// default for the measure: 1.0 for meanRatio, 0.5 for cles.
type EffectSize struct {
	Measure          EffectMeasure
	AllowedIncrease  *float64
	AllowedDecrease  *float64
	CriticalIncrease *float64
	CriticalDecrease *float64
}

// Outliers configures outlier removal (analysisConfigurations.canary.
// outliers). Only Strategy "remove" removes; anything else keeps them, as
// Kayenta's OutlierStrategy.parse. Factor 0 means Kayenta's default 3.0.
type Outliers struct {
	Strategy string
	Factor   float64
}

// MetricSpec is what the judge needs of one metric of a canary config. It
// is the judge's own view, independent of the stored document.
type MetricSpec struct {
	Name         string
	Groups       []string
	Direction    Direction
	NaNStrategy  NaNStrategy
	Critical     bool
	MustHaveData bool
	// Muted metrics are classified and reported but left out of the score.
	Muted      bool
	EffectSize EffectSize
	Outliers   Outliers
}

// MetricSamples is a metric with the samples of both sides for one
// analysis interval. NaN stands for a missing point.
type MetricSamples struct {
	Metric     MetricSpec
	Control    []float64
	Experiment []float64
}

// Thresholds are the score thresholds of an analysis
// (scoreThresholds {pass, marginal}); Orca's defaults are 75 and 50
// (KayentaCanaryContext.kt).
type Thresholds struct {
	Pass     float64
	Marginal float64
}

// Stats describes one side's samples after the NaN strategy and outlier
// removal (Kayenta's DescriptiveStatistics.summary, less the std).
type Stats struct {
	Count                  int
	Mean, Median, Min, Max float64
	// Q1 and Q3 are the first and third quartiles (R's type 7), for the
	// report's box plots; Kayenta does not report them.
	Q1, Q3 float64
}

// MetricResult is the verdict on one metric.
type MetricResult struct {
	Name           string
	Groups         []string
	Classification Classification
	Reason         string
	// Critical is set when this result fails the whole canary: a critical
	// metric classified High/Low beyond its critical effect size, or with
	// no data. It is not set for Error, as in Kayenta, where the exception
	// path builds the result without it.
	Critical bool
	Muted    bool
	// Deviation is the mean ratio experiment/control, Kayenta's "ratio";
	// 1.0 when the test did not run, NaN when a mean is 0.
	Deviation float64
	// EffectSize is the configured measure's value (NaN when not computed).
	EffectSize float64
	// Test is the rank-sum test's figures, nil when it did not run.
	Test                *RankSumResult
	Control, Experiment Stats
}

// GroupScore is one group's share of passing metrics.
type GroupScore struct {
	Name string
	// Score is 100·Pass/(Pass+High+Low+NodataFailMetric), 0 when NoData.
	Score float64
	// NoData: none of the group's metrics was counted; the summary then
	// takes the group as 100.
	NoData bool
	// Counts of the group's metrics by classification.
	Counts map[Classification]int
}

// Result is the judge's verdict on one analysis interval.
type Result struct {
	// Score is the summary score, 0 to 100, rounded to two decimals.
	Score          float64
	Classification ScoreClassification
	// Reason is set when a rule forced the score to 0.
	Reason  string
	Groups  []GroupScore
	Metrics []MetricResult
}

// Judge classifies every metric and scores the interval: NetflixACAJudge.
// judge then ScoringHelper.score (kayenta-judge NetflixACAJudge.scala,
// scorers/ScoringHelper.scala). groupWeights is classifier.groupWeights.
// The only error is a configuration Kayenta itself rejects before judging
// (a negative outlier factor); a failed test is the Error classification.
func Judge(metrics []MetricSamples, groupWeights map[string]float64, th Thresholds) (Result, error) {
	results := make([]MetricResult, 0, len(metrics))
	for _, m := range metrics {
		r, err := ClassifyMetric(m)
		if err != nil {
			return Result{}, err
		}
		results = append(results, r)
	}
	res := Score(results, groupWeights)
	res.Classification = ClassifyScore(res.Score, th)
	return res, nil
}

// ClassifyMetric applies the NaN strategy and outlier removal to both sides
// and classifies the experiment against the control, as NetflixACAJudge.
// classifyMetric and MannWhitneyClassifier.classify do.
func ClassifyMetric(m MetricSamples) (MetricResult, error) {
	spec := m.Metric
	factor := cmp.Or(spec.Outliers.Factor, 3.0)
	if factor < 0 {
		// IQRDetector's require(factor > 0): Kayenta fails the whole judgment.
		return MetricResult{}, fmt.Errorf("metric %q: outliers.outlierFactor is %v; it must be greater than zero", spec.Name, spec.Outliers.Factor)
	}
	nan := spec.NaNStrategy
	if nan != NaNReplace {
		nan = NaNRemove
	}
	exp := cleanSamples(m.Experiment, nan, spec.Outliers.Strategy == "remove", factor)
	ctl := cleanSamples(m.Control, nan, spec.Outliers.Strategy == "remove", factor)
	res := MetricResult{
		Name:       spec.Name,
		Groups:     spec.Groups,
		Muted:      spec.Muted,
		Deviation:  1.0,
		EffectSize: math.NaN(),
		Control:    describe(ctl),
		Experiment: describe(exp),
	}

	if len(exp) == 0 || len(ctl) == 0 {
		if nan == NaNReplace {
			res.Classification = ClassPass
			return res, nil
		}
		res.Reason = "Missing data for " + spec.Name
		if spec.MustHaveData && !spec.Critical {
			res.Classification = ClassNodataFailMetric
			return res, nil
		}
		res.Classification = ClassNodata
		res.Critical = spec.Critical
		return res, nil
	}
	if slices.Equal(sorted(exp), sorted(ctl)) {
		res.Classification = ClassPass
		res.Reason = "The Canary and Baseline data are identical"
		return res, nil
	}
	if distinct(slices.Concat(exp, ctl)) == 1 {
		res.Classification = ClassPass
		return res, nil
	}

	// Each side constant (but different): the test's statistic would be a
	// single step. Kayenta adds Gaussian noise of σ = value·1e-5 to each
	// side; the seed is fixed here so that a judgment can be replayed.
	if distinct(exp) == 1 && distinct(ctl) == 1 {
		rng := rand.New(rand.NewPCG(1, 2))
		exp = addNoise(exp, exp[0]*1e-5, rng)
		ctl = addNoise(ctl, ctl[0]*1e-5, rng)
	}

	test, err := KayentaRankSumTest(exp, ctl, 0.98)
	if err != nil {
		res.Classification = ClassError
		res.Reason = fmt.Sprintf("Metric Classification Failed: %v", err)
		return res, nil
	}
	res.Test = &test
	res.Deviation = meanRatio(ctl, exp)
	measure := spec.EffectSize.Measure
	def := 1.0
	if measure == EffectCLES {
		def = 0.5
		res.EffectSize = cles(ctl, exp)
	} else {
		res.EffectSize = res.Deviation
	}
	bound := func(p *float64) float64 {
		if p == nil {
			return def
		}
		return *p
	}
	es := spec.EffectSize

	// Significant beyond a tolerance of a quarter of the estimate, and large
	// enough; an effect that cannot be computed does not hold a verdict back.
	tol := 0.25 * math.Abs(test.Estimate)
	dir := spec.Direction
	high := (dir == DirectionIncrease || !isDecreaseOrIncrease(dir)) && test.Lower > tol &&
		(math.IsNaN(res.EffectSize) || res.EffectSize >= bound(es.AllowedIncrease))
	low := (dir == DirectionDecrease || !isDecreaseOrIncrease(dir)) && test.Upper < -tol &&
		(math.IsNaN(res.EffectSize) || res.EffectSize <= bound(es.AllowedDecrease))
	switch {
	case high:
		res.Classification = ClassHigh
		res.Reason = spec.Name + " was classified as High"
		if spec.Critical && (math.IsNaN(res.EffectSize) || res.EffectSize >= bound(es.CriticalIncrease)) {
			res.Critical = true
			res.Reason = "The metric " + spec.Name + " was classified as High (Critical)"
		}
	case low:
		res.Classification = ClassLow
		res.Reason = spec.Name + " was classified as Low"
		if spec.Critical && (math.IsNaN(res.EffectSize) || res.EffectSize <= bound(es.CriticalDecrease)) {
			res.Critical = true
			res.Reason = "The metric " + spec.Name + " was classified as Low (Critical)"
		}
	default:
		res.Classification = ClassPass
	}
	return res, nil
}

func isDecreaseOrIncrease(d Direction) bool {
	return d == DirectionIncrease || d == DirectionDecrease
}

// nodataThreshold is WeightedSumScorer's NODATA_THRESHOLD: at or above this
// percentage of Nodata metrics the canary fails.
const nodataThreshold = 50

// Score is Kayenta's WeightedSumScorer over the results, muted ones left
// out (scorers/WeightedSumScorer.scala, ScoringHelper.scala):
//
//   - Each group scores 100·Pass/(Pass+High+Low+NodataFailMetric); Nodata
//     and Error do not count. A group with nothing counted has NoData and
//     counts as 100 in the summary.
//   - The summary is Σ groupScore·weight/100. Groups missing from
//     groupWeights share what the configured weights leave of 100 equally
//     (this can be 0 or negative). It is rounded half-up to two decimals.
//   - The summary is 0 when a result is Critical and not Pass, or when
//     50% or more of the results are Nodata.
//
// Score leaves Classification empty; ClassifyScore sets it.
func Score(results []MetricResult, groupWeights map[string]float64) Result {
	var counted []MetricResult
	for _, r := range results {
		if !r.Muted {
			counted = append(counted, r)
		}
	}
	byGroup := map[string]*GroupScore{}
	for _, r := range counted {
		for _, g := range r.Groups {
			gs := byGroup[g]
			if gs == nil {
				gs = &GroupScore{Name: g, Counts: map[Classification]int{}}
				byGroup[g] = gs
			}
			gs.Counts[r.Classification]++
		}
	}
	groups := make([]GroupScore, 0, len(byGroup))
	for _, gs := range byGroup {
		c := gs.Counts
		total := c[ClassPass] + c[ClassHigh] + c[ClassLow] + c[ClassNodataFailMetric]
		if total == 0 {
			gs.NoData = true
		} else {
			gs.Score = float64(c[ClassPass]) / float64(total) * 100
		}
		groups = append(groups, *gs)
	}
	slices.SortFunc(groups, func(a, b GroupScore) int { return cmp.Compare(a.Name, b.Name) })
	res := Result{Groups: groups, Metrics: results}

	for _, r := range counted {
		if r.Critical && r.Classification != ClassPass {
			res.Reason = "Canary Failed: " + r.Reason
			return res
		}
	}
	nodata := 0
	for _, r := range counted {
		if r.Classification == ClassNodata {
			nodata++
		}
	}
	if len(counted) > 0 && float64(nodata)/float64(len(counted))*100 >= nodataThreshold {
		res.Reason = fmt.Sprintf("Canary Failed: %d%% or more metrics returned NODATA", nodataThreshold)
		return res
	}

	var weightSum float64
	for _, w := range groupWeights {
		weightSum += w
	}
	unweighted := 0
	for _, g := range groups {
		if _, ok := groupWeights[g.Name]; !ok {
			unweighted++
		}
	}
	shared := 0.0
	if unweighted > 0 {
		shared = (100 - weightSum) / float64(unweighted)
	}
	var sum float64
	for _, g := range groups {
		s := g.Score
		if g.NoData {
			s = 100
		}
		w, ok := groupWeights[g.Name]
		if !ok {
			w = shared
		}
		sum += s * (w / 100)
	}
	res.Score = roundHalfUp2(sum)
	return res
}

// ClassifyScore is ThresholdScoreClassifier: Pass at or above th.Pass,
// Marginal at or above th.Marginal, else Fail. Note that Orca, which acts
// on the score, fails a score equal to the marginal threshold that this
// labels Marginal; see IntervalSucceeded.
func ClassifyScore(score float64, th Thresholds) ScoreClassification {
	switch {
	case score >= th.Pass:
		return ScorePass
	case score >= th.Marginal:
		return ScoreMarginal
	}
	return ScoreFail
}

// IntervalSucceeded is Orca's check after each analysis interval
// (orca-kayenta tasks/MonitorKayentaCanaryTask.kt): the stage stops unless
// the score is strictly above the marginal threshold.
func IntervalSucceeded(score float64, th Thresholds) bool {
	return score > th.Marginal
}

// ErrBelowPass and ErrNotAboveMarginal are the two ways a canary's final
// score fails it.
var (
	ErrNotAboveMarginal = errors.New("final canary score is not above the marginal score threshold")
	ErrBelowPass        = errors.New("final canary score is below the pass score threshold")
)

// FinalVerdict is Orca's verdict on the whole analysis
// (orca-kayenta tasks/AggregateCanaryResultsTask.kt): only the last
// interval's score counts; at or below marginal fails, below pass fails,
// otherwise the canary passed. It returns nil for a pass.
func FinalVerdict(scores []float64, th Thresholds) error {
	if len(scores) == 0 {
		return errors.New("final canary verdict: no interval has been scored")
	}
	last := scores[len(scores)-1]
	switch {
	case last <= th.Marginal:
		return fmt.Errorf("%w: %v ≤ %v", ErrNotAboveMarginal, last, th.Marginal)
	case last < th.Pass:
		return fmt.Errorf("%w: %v < %v", ErrBelowPass, last, th.Pass)
	}
	return nil
}

// cleanSamples applies the NaN strategy and then, when asked, removes
// outliers (NetflixACAJudge.transformMetric). It never changes v.
func cleanSamples(v []float64, nan NaNStrategy, removeOutliers bool, factor float64) []float64 {
	out := make([]float64, 0, len(v))
	for _, x := range v {
		switch {
		case !math.IsNaN(x):
			out = append(out, x)
		case nan == NaNReplace:
			out = append(out, 0)
		}
	}
	if !removeOutliers || len(out) == 0 {
		return out
	}
	// IQRDetector with reduceSensitivity: fences widened to the 1st and 99th
	// percentiles when those lie beyond Q1 − f·IQR and Q3 + f·IQR.
	s := sorted(out)
	q1, q3 := percentileR7(s, 25), percentileR7(s, 75)
	iqr := q3 - q1
	lo := math.Min(percentileR7(s, 1), q1-factor*iqr)
	hi := math.Max(percentileR7(s, 99), q3+factor*iqr)
	kept := out[:0]
	for _, x := range out {
		if !(x > hi || x < lo) {
			kept = append(kept, x)
		}
	}
	return kept
}

// percentileR7 is the p-th percentile of sorted values by R's type 7
// (Apache Commons Math's Percentile with EstimationType.R_7, which
// Kayenta's DescriptiveStatistics.percentile uses).
func percentileR7(s []float64, p float64) float64 {
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	pos := p / 100 * float64(n-1)
	i := int(math.Floor(pos))
	if i >= n-1 {
		return s[n-1]
	}
	return s[i] + (pos-float64(i))*(s[i+1]-s[i])
}

func describe(v []float64) Stats {
	nan := math.NaN()
	st := Stats{Count: len(v), Mean: nan, Median: nan, Min: nan, Max: nan, Q1: nan, Q3: nan}
	if len(v) == 0 {
		return st
	}
	s := sorted(v)
	st.Mean = mean(v)
	st.Median = percentileR7(s, 50)
	st.Q1, st.Q3 = percentileR7(s, 25), percentileR7(s, 75)
	st.Min, st.Max = s[0], s[len(s)-1]
	return st
}

// mean is Commons Math's StatUtils.mean: the sum over n, corrected by the
// mean residual, which Kayenta's ratios are computed with.
func mean(v []float64) float64 {
	var sum float64
	for _, x := range v {
		sum += x
	}
	n := float64(len(v))
	m := sum / n
	var corr float64
	for _, x := range v {
		corr += x - m
	}
	return m + corr/n
}

// meanRatio is mean(experiment)/mean(control), NaN when either mean is 0
// (stats/EffectSizes.scala).
func meanRatio(control, experiment []float64) float64 {
	c, e := mean(control), mean(experiment)
	if c == 0 || e == 0 {
		return math.NaN()
	}
	return e / c
}

// cles is the common-language effect size of Vargha and Delaney (2000):
// the share of (experiment, control) pairs where the experiment is higher,
// ties counting half, from the experiment's rank sum (EffectSizes.scala).
func cles(control, experiment []float64) float64 {
	r, _ := averageRanks(slices.Concat(experiment, control))
	var r1 float64
	for i := range experiment {
		r1 += r[i]
	}
	m, n := float64(len(experiment)), float64(len(control))
	return (2*r1 - m*(m+1)) / (2 * n * m)
}

func addNoise(v []float64, sigma float64, rng *rand.Rand) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x + rng.NormFloat64()*sigma
	}
	return out
}

func sorted(v []float64) []float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s
}

func distinct(v []float64) int {
	s := sorted(v)
	return len(slices.Compact(s))
}

// roundHalfUp2 rounds to two decimals, halves away from zero, on the
// shortest decimal form of x, as Commons Math's Precision.round(x, 2)
// (which goes through BigDecimal(Double.toString(x))) does.
func roundHalfUp2(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(x, 'g', -1, 64))
	if !ok {
		return x
	}
	r.Mul(r, big.NewRat(100, 1))
	half := big.NewRat(1, 2)
	if r.Sign() < 0 {
		r.Sub(r, half)
	} else {
		r.Add(r, half)
	}
	q := new(big.Int).Quo(r.Num(), r.Denom()) // truncates toward zero
	f, _ := new(big.Rat).SetFrac(q, big.NewInt(100)).Float64()
	return f
}
