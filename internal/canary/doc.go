// Package canary judges canaries: it owns the statistics that compare a
// new version's metrics (the experiment) with the current version's (the
// control) and the metric sources that provide them.
//
// The judge is pure: it takes samples and configuration and returns
// verdicts. It must not do I/O, read clocks, keep state between calls or
// import the engine or the store; the stages that run an analysis fetch
// the samples, call the judge and record its result.
//
// # The fixed-interval judge: NetflixACAJudge-v1.0
//
// [Judge] reproduces Kayenta's NetflixACAJudge-v1.0 (spinnaker/kayenta,
// kayenta-judge/src/main/scala/com/netflix/kayenta/judge/, read at commit
// a69573b), so that an exported Kayenta canary config gives the same
// verdict here. Per metric ([ClassifyMetric]; NetflixACAJudge.scala,
// classifiers/metric/MannWhitneyClassifier.scala):
//
//  1. NaN strategy: remove NaNs, or replace them with 0 (default remove).
//  2. Outliers, only with strategy "remove": Tukey's IQR fences with
//     Kayenta's reduced sensitivity, [min(P1, Q1 − f·IQR), max(P99,
//     Q3 + f·IQR)], percentiles by R's type 7, f = outlierFactor
//     (default 3; detectors/IQRDetector.scala, stats/DescriptiveStatistics.scala).
//  3. An empty side: with NaN strategy remove, Nodata (keeping the metric's
//     critical flag), or NodataFailMetric when mustHaveData and not
//     critical; with replace, Pass. Identical samples, or one value across
//     both sides: Pass. Each side constant: Gaussian noise of σ = value·1e-5
//     is added to each side first (seeded, so a judgment replays).
//  4. The two-sided Wilcoxon rank-sum (Mann-Whitney U) test of experiment
//     against control at 98% confidence ([RankSumTest], normal
//     approximation, as Kayenta's kayenta-mannwhitney MannWhitney.scala):
//     Hodges-Lehmann estimate of the shift and its confidence interval.
//  5. High when the direction allows an increase, the interval's lower end
//     is above 0.25·|estimate| and the effect size is at least
//     allowedIncrease (or cannot be computed); Low symmetrically with the
//     upper end, −0.25·|estimate| and allowedDecrease; else Pass. The effect
//     size is meanRatio, mean(experiment)/mean(control) (NaN when a mean is
//     0), or cles, the share of pairs where the experiment is higher
//     (Vargha and Delaney 2000; stats/EffectSizes.scala); the bounds default
//     to 1.0 for meanRatio and 0.5 for cles.
//  6. A critical metric classified High with effect ≥ criticalIncrease, or
//     Low with effect ≤ criticalDecrease, fails the canary. A test that
//     cannot be computed classifies the metric Error.
//
// Scoring ([Score]; scorers/WeightedSumScorer.scala, ScoringHelper.scala)
// leaves muted metrics out, scores each group 100·Pass/(Pass + High + Low
// + NodataFailMetric), sums the groups weighted by classifier.groupWeights
// (groups without a weight share the rest of 100 equally; a group with no
// counted metric counts as 100) and rounds to two decimals; the score is 0
// when a critical metric fails or when half or more of the metrics have no
// data. [ClassifyScore] labels it (classifiers/score/
// ThresholdScoreClassifier.scala: Pass at ≥ pass, Marginal at ≥ marginal).
// Orca acts on the number, not the label, and is stricter at the marginal
// boundary: an interval whose score is ≤ marginal stops the stage
// (orca-kayenta tasks/MonitorKayentaCanaryTask.kt; [IntervalSucceeded]),
// and the final verdict on the last interval fails at ≤ marginal or
// < pass (tasks/AggregateCanaryResultsTask.kt; [FinalVerdict]). A score
// equal to marginal is thus labelled Marginal and fails.
//
// # The rank-sum test and its sources
//
// Kayenta's MannWhitney.scala ports R's wilcox.test(conf.int = TRUE) for
// the normal approximation. [RankSumTest] follows R's wilcox.test.default
// (R 4.2, stats package) in both its modes, written from R's documentation
// and the algorithm, not from its GPL code:
//
//   - The statistic W is the experiment's rank sum (average ranks for ties)
//     less nx(nx+1)/2.
//   - Exact, when R would use it (both samples under 50 values, no ties):
//     the p-value from the null distribution of W, counted by a recurrence
//     on the largest rank; the interval from the sorted pairwise
//     differences at the qwilcox(α/2) quantile; the estimate their median.
//   - Normal approximation: z with the ties correction of the variance and
//     the continuity correction; the interval ends are the shifts where the
//     standardized statistic crosses the normal quantiles, found by Brent's
//     root finder (Brent 1973, the netlib zeroin R's uniroot runs, and
//     Kayenta's BrentSolver.java too) to R's tolerance of 1e-4; the
//     estimate is the root at 0 without continuity correction. Kayenta keeps
//     the correction there, which for small samples moves the estimate by up
//     to a gap between pairwise differences; the judge uses Kayenta's
//     estimate ([KayentaRankSumTest]), since the ±25% tolerance of step 5
//     is taken of it.
//
// Because the interval comes from a root finder on a step function, only
// the same steps give the same figures, which is why the root finder is
// Brent's own rather than another. The normal distribution is gonum's
// (gonum.org/v1/gonum/stat/distuv). golang.org/x/perf's and
// go-moremath's Mann-Whitney tests give p-values only, not the interval.
// testdata/judge/wilcox.golden.json holds R's figures for the test vectors
// and testdata/judge/gen.R regenerates them; the tests compare to 1e-9.
//
// Where this judge departs from Kayenta, by choice: the noise seed is fixed
// rather than process-random; the estimate follows R (above); a metric's
// samples are not validated against a config here (the caller pairs them).
package canary
