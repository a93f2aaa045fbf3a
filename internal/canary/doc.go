// Package canary judges canaries: it owns the statistics that compare a
// new version's metrics (the experiment) with the current version's (the
// control) and the metric sources that provide them. It also reads the
// CloudWatch alarms a traffic-shifting gate names ([AlarmGate]): only
// ALARM fires, as in CodeDeploy, and a missing alarm is an error.
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
//
// # The sequential judge: always-valid error rates
//
// Kayenta looks at fixed intervals, and looking more often than planned
// inflates its false alarms. [SequentialConfig.Update] can look after
// every request or batch and stop as soon as the evidence is decisive,
// and its error rates hold however often it looks. It judges an error
// rate, each request a Bernoulli trial on its side (control or
// experiment), by two one-sided mixture sequential probability ratio tests
// (mSPRT) on the difference θ = p_experiment − p_control of the rates,
// after Johari, Koomen, Pekelis and Walsh, "Always Valid Inference:
// Continuous Monitoring of A/B Tests" (Operations Research 70(3),
// 1806–1821, 2022; first as Johari, Pekelis and Walsh, arXiv:1512.04922)
// and the same authors' "Peeking at A/B Tests" (KDD 2017):
//
//   - The estimate θ̂ is the difference of the observed rates, taken as
//     normal with variance v = pₑ(1−pₑ)/nₑ + p_c(1−p_c)/n_c taken at the
//     rates of the test's null hypothesis (the pooled rate for the
//     fail test, the control's rate and that plus δ for the pass test, each
//     smoothed by one error in two requests), as Johari et al. do for two
//     Bernoulli streams, generalized from pairs to any traffic split.
//   - The mixture likelihood ratio integrates the normal likelihood ratio
//     of θ against the null's boundary over a half-normal prior of scale τ
//     on the alternative's side: Λ = 2·√(v/(v+τ²))·exp(x²τ²/(2v(v+τ²)))·
//     Φ(xτ/√(v(v+τ²))), x the estimate's distance from the boundary — Johari
//     et al.'s normal mixture (Robbins 1970) restricted to one side, so
//     that evidence of an improvement does not count as evidence of a
//     regression. The always-valid p-value is Johari et al.'s running
//     minimum of 1/Λ, kept as the running maximum of log Λ in
//     [SequentialState].
//   - Fail (roll back) when the p-value of "θ ≤ 0" reaches α; pass
//     (promote) when the p-value of "θ ≥ δ" reaches β, δ the tolerable
//     increase. Each mixture is a nonnegative supermartingale under its
//     null, so by Ville's inequality (Ville 1939) the chance that a version
//     no worse than the control is ever failed is at most α, and the
//     chance that one worse by δ or more is ever passed at most β, at any
//     stopping time. Between 0 and δ either decision is acceptable. Both
//     decisive at one look: fail, the safe side. Why a margin: no amount
//     of data shows two rates equal, so "pass" must mean "not worse by δ".
//     Without the pass test the judge could only fail or run out of time.
//   - The guarantee is asymptotic (the normal approximation of θ̂ and the
//     variance plugged in), so the judge does not look before both sides
//     together have shown ten errors, and the simulator measures the
//     rates: [Simulate], 1,000 seeded runs per scenario, the test
//     TestSequentialWrongDecisionRates and the figures in
//     docs/benchmarks.md.
//   - A canary that reaches its lifetime undecided stays CONTINUE; the
//     caller decides what that means (Kayenta's stage would pass it).
//
// The yardstick for speed is Wald's SPRT for the true alternative with
// the control's rate known ([WaldExpectedRequests]; Wald, "Sequential
// Tests of Statistical Hypotheses", Ann. Math. Statist. 16(2), 1945): by
// the Wald–Wolfowitz theorem (1948) no test with the same error rates
// needs fewer requests on average at either hypothesis. The simulator
// ([SimulateRun], [Simulate]) replays seeded Poisson traffic with a
// traffic split (math/rand/v2's PCG) through this judge and through [Judge]
// at Orca's interval plan on per-step error rates, and reports time to
// decision and wrong decisions; [BenchCases] are issue 11's scenarios and
// [WriteBenchTable] their table, which `sluice bench canary` and
// BenchmarkSimulate both print.
//
// Latency ([SequentialLatencyConfig]) is judged the same way on the mean
// log latency, so an increase is a ratio and the tolerable increase δ is
// log(1 + the relative increase): the estimate is the difference of the
// sides' mean log latencies (Welford's running moments) with one sample
// variance, pooled from both sides, plugged in, as Johari et al. do for
// normal data (a version shifts the log latency more than it changes its
// spread, and the control's larger share of the traffic estimates the
// spread early); the judge waits for 20 control and 5 canary latencies. Inverted, the same normal-mixture
// boundary is a confidence sequence for the difference — the normal
// mixture boundary of Howard, Ramdas, McAuliffe and Sekhon, "Time-uniform,
// nonparametric, nonasymptotic confidence sequences" (Ann. Statist. 49(2),
// 2021) — but with the variance estimated it is the asymptotic kind
// (Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas, "Time-uniform central
// limit theory and asymptotic confidence sequences", 2021), not their
// nonasymptotic sub-Gaussian or empirical-Bernstein sequences; so, as for
// error rates, the simulator measures the rates it keeps.
package canary
