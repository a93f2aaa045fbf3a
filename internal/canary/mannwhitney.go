package canary

import (
	"errors"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// ExactMode chooses between the exact distribution of the rank-sum
// statistic and its normal approximation, as wilcox.test's exact argument.
type ExactMode int

const (
	// ExactAuto is R's default (exact = NULL): exact when both samples have
	// fewer than 50 values and there are no ties.
	ExactAuto ExactMode = iota
	// ExactNever always uses the normal approximation with the ties and
	// continuity corrections. Kayenta's MannWhitney.scala has only this mode,
	// so the judge uses it.
	ExactNever
	// ExactAlways is exact = TRUE: exact unless there are ties, when R too
	// falls back to the normal approximation.
	ExactAlways
)

// RankSumResult is the outcome of a two-sided Wilcoxon rank-sum
// (Mann-Whitney U) test of x against y with a confidence interval for the
// location shift x − y.
type RankSumResult struct {
	// W is R's statistic: the rank sum of x minus nx(nx+1)/2.
	W float64
	// PValue is two-sided.
	PValue float64
	// Estimate is the Hodges-Lehmann estimate of the shift x − y: the median
	// of the pairwise differences (exact), or the root of the standardized
	// statistic without continuity correction (normal approximation).
	Estimate float64
	// Lower and Upper bound the confidence interval for the shift.
	Lower, Upper float64
	// Exact reports which method produced the figures.
	Exact bool
	// Evaluations counts the rankings of shifted samples the normal
	// approximation needed (0 when exact). Each root search is capped at
	// 1001 steps, as uniroot's maxiter, so it never exceeds 3·1001 + 4.
	Evaluations int
}

// ErrAllTied is returned when every observation of both samples is tied at
// some shift inside the search interval, so the normal approximation has a
// zero variance there. R only warns and goes on with an infinite statistic;
// Kayenta throws, which its judge reports as the Error classification.
var ErrAllTied = errors.New("cannot compute confidence interval when all observations are tied")

// rootTolerance is wilcox.test's tol.root default, handed to uniroot.
const rootTolerance = 1e-4

// RankSumTest runs the two-sample, two-sided test of x against y (mu = 0,
// correct = TRUE, conf.int = TRUE) at confLevel, following the logic of R's
// wilcox.test.default (R 4.2, stats package, wilcox.test.R) so that its
// figures can be checked against R to rounding error:
//
//   - W and the ties test use average ranks of c(x, y).
//   - Exact: two-sided p-value from the null distribution of W; the interval
//     is the qu-th and (nx·ny − qu + 1)-th sorted pairwise difference with
//     qu = qwilcox(α/2, nx, ny) (1 if 0); the estimate is the median of the
//     differences.
//   - Normal: z = (W − nx·ny/2 − sign·½)/σ with σ corrected for ties; the
//     interval ends are the shifts d where the standardized statistic of
//     (x − d, y) crosses ±z(α/2), found by Brent's zeroin (R's uniroot) on
//     [min x − max y, max x − min y] with tolerance 1e-4; when the statistic
//     at an end of that range is already past the quantile the end itself is
//     returned. The estimate is the root of the same statistic at 0 but with
//     no continuity correction (R sets correct to FALSE before computing it;
//     Kayenta keeps it: see KayentaRankSumTest).
//
// The code is written from R's documented behaviour and its algorithm, not
// copied (R is GPL). Both samples must be non-empty and free of NaN.
func RankSumTest(x, y []float64, confLevel float64, exact ExactMode) (RankSumResult, error) {
	return rankSumTest(x, y, confLevel, exact, false)
}

// KayentaRankSumTest is the test as Kayenta's MannWhitney.mannWhitneyUTest
// runs it (kayenta-mannwhitney MannWhitney.scala), which the judge uses:
// always the normal approximation, and the estimate found with the
// continuity correction kept, where R drops it. For small samples the two
// estimates can differ by a gap between pairwise differences; the interval
// and p-value are R's.
func KayentaRankSumTest(experiment, control []float64, confLevel float64) (RankSumResult, error) {
	return rankSumTest(experiment, control, confLevel, ExactNever, true)
}

func rankSumTest(x, y []float64, confLevel float64, exact ExactMode, correctEstimate bool) (RankSumResult, error) {
	if len(x) == 0 || len(y) == 0 {
		return RankSumResult{}, errors.New("rank-sum test: both samples need at least one value")
	}
	for _, v := range slices.Concat(x, y) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			// R rejects infinite shifts too: the search range would be infinite.
			return RankSumResult{}, errors.New("rank-sum test: samples must be finite; apply the NaN strategy first")
		}
	}
	nx, ny := float64(len(x)), float64(len(y))
	ranks, ties := averageRanks(slices.Concat(x, y))
	var w float64
	for i := range x {
		w += ranks[i]
	}
	w -= nx * (nx + 1) / 2
	useExact := false
	switch exact {
	case ExactAuto:
		useExact = len(x) < 50 && len(y) < 50
	case ExactAlways:
		useExact = true
	}
	alpha := 1 - confLevel
	res := RankSumResult{W: w}
	if useExact && ties == 0 {
		res.Exact = true
		d := newWilcoxDist(len(x), len(y))
		var p float64
		if w > nx*ny/2 {
			p = d.upperTail(int(w) - 1)
		} else {
			p = d.cdf(int(w))
		}
		res.PValue = math.Min(2*p, 1)
		diffs := make([]float64, 0, len(x)*len(y))
		for _, xi := range x {
			for _, yj := range y {
				diffs = append(diffs, xi-yj)
			}
		}
		slices.Sort(diffs)
		qu := d.quantile(alpha / 2)
		if qu == 0 {
			qu = 1
		}
		ql := len(diffs) - qu
		res.Lower, res.Upper = diffs[qu-1], diffs[ql]
		res.Estimate = median(diffs)
		return res, nil
	}

	sigma := rankSumSigma(nx, ny, ties)
	z := w - nx*ny/2
	z = (z - sign(z)*0.5) / sigma
	res.PValue = 2 * distuv.UnitNormal.CDF(-math.Abs(z))
	if math.IsNaN(z) {
		res.PValue = math.NaN()
	}

	var tied bool
	stat := func(d float64, correct bool) float64 {
		res.Evaluations++
		shifted := make([]float64, 0, len(x)+len(y))
		for _, xi := range x {
			shifted = append(shifted, xi-d)
		}
		shifted = append(shifted, y...)
		r, t := averageRanks(shifted)
		var dz float64
		for i := range x {
			dz += r[i]
		}
		dz -= nx*(nx+1)/2 + nx*ny/2
		corr := 0.0
		if correct {
			corr = sign(dz) * 0.5
		}
		s := rankSumSigma(nx, ny, t)
		if s == 0 {
			tied = true
		}
		return (dz - corr) / s
	}
	muMin := slices.Min(x) - slices.Max(y)
	muMax := slices.Max(x) - slices.Min(y)
	wMin, wMax := stat(muMin, true), stat(muMax, true)
	if math.IsNaN(wMin) || math.IsNaN(wMax) {
		// A single value each side: at an end of the range all are tied.
		return res, ErrAllTied
	}
	root := func(zq float64) float64 {
		fl := wMin - zq
		if fl <= 0 {
			return muMin
		}
		fu := wMax - zq
		if fu >= 0 {
			return muMax
		}
		return zeroin(func(d float64) float64 { return stat(d, true) - zq }, muMin, muMax, fl, fu, rootTolerance, 1000)
	}
	zq := distuv.UnitNormal.Quantile(alpha / 2)
	res.Lower = root(-zq)
	res.Upper = root(zq)
	f := func(d float64) float64 { return stat(d, correctEstimate) }
	fl, fu := f(muMin), f(muMax)
	if fl*fu > 0 {
		return res, errors.New("rank-sum test: the statistic does not change sign over the shift range")
	}
	res.Estimate = zeroin(f, muMin, muMax, fl, fu, rootTolerance, 1000)
	if tied {
		return res, ErrAllTied
	}
	return res, nil
}

func sign(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	case v == 0:
		return 0
	}
	return math.NaN()
}

// rankSumSigma is the standard deviation of W under the null hypothesis,
// reduced for ties: ties is Σ(t³ − t) over the groups of tied values.
func rankSumSigma(nx, ny, ties float64) float64 {
	return math.Sqrt((nx * ny / 12) * ((nx + ny + 1) - ties/((nx+ny)*(nx+ny-1))))
}

// averageRanks ranks v from 1, giving tied values the mean of their ranks
// (R's rank with ties.method = "average"), and returns Σ(t³ − t) over the
// groups of t tied values.
func averageRanks(v []float64) (ranks []float64, ties float64) {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case v[a] < v[b]:
			return -1
		case v[a] > v[b]:
			return 1
		}
		return 0
	})
	ranks = make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		r := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			ranks[idx[k]] = r
		}
		if t := float64(j - i + 1); t > 1 {
			ties += t*t*t - t
		}
		i = j + 1
	}
	return ranks, ties
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// wilcoxDist is the null distribution of W for samples of m and n values
// without ties: counts[k] is the number of the C(m+n, m) rank assignments
// giving W = k. The counts come from the recurrence on the largest rank
// (it belongs to x and adds n to W, or to y and adds nothing), which only
// adds non-negative numbers and so stays accurate in float64.
type wilcoxDist struct {
	counts []float64
	total  float64
}

func newWilcoxDist(m, n int) wilcoxDist {
	// prev[j] holds the counts for (i−1, j); cur[j] for (i, j).
	prev := make([][]float64, n+1)
	for j := range prev {
		prev[j] = []float64{1} // i = 0: W is always 0
	}
	for i := 1; i <= m; i++ {
		cur := make([][]float64, n+1)
		cur[0] = []float64{1} // j = 0: W is always 0
		for j := 1; j <= n; j++ {
			c := make([]float64, i*j+1)
			for k := range c {
				if k-j >= 0 && k-j < len(prev[j]) {
					c[k] += prev[j][k-j]
				}
				if k < len(cur[j-1]) {
					c[k] += cur[j-1][k]
				}
			}
			cur[j] = c
		}
		prev = cur
	}
	counts := prev[n]
	var total float64
	for _, c := range counts {
		total += c
	}
	return wilcoxDist{counts: counts, total: total}
}

// cdf is P(W ≤ q).
func (d wilcoxDist) cdf(q int) float64 {
	if q < 0 {
		return 0
	}
	var s float64
	for k := 0; k <= q && k < len(d.counts); k++ {
		s += d.counts[k]
	}
	return math.Min(s/d.total, 1)
}

// upperTail is P(W > q), summed from the top so that small tails keep
// their precision, as R's pwilcox does with lower.tail = FALSE.
func (d wilcoxDist) upperTail(q int) float64 {
	var s float64
	for k := len(d.counts) - 1; k > q && k >= 0; k-- {
		s += d.counts[k]
	}
	return math.Min(s/d.total, 1)
}

// quantile is the smallest q with P(W ≤ q) ≥ p, for p ≤ ½ (qwilcox, lower
// tail; the small allowance for rounding is R's).
func (d wilcoxDist) quantile(p float64) int {
	p -= 10 * 2.220446049250313e-16
	var s float64
	for q := range d.counts {
		s += d.counts[q] / d.total
		if s >= p {
			return q
		}
	}
	return len(d.counts) - 1
}

// zeroin finds a root of f in [a, b] given f(a) = fa and f(b) = fb of
// opposite signs, by Brent's method (R. P. Brent, "Algorithms for
// Minimization without Derivatives", 1973, ch. 4: bisection guarded by
// linear and inverse quadratic interpolation). It is the algorithm R's
// uniroot runs (zeroin2 in R's zeroin.c, itself the netlib zeroin); the
// same steps in the same order give the same root on the step functions of
// the rank-sum statistic, which a different solver would not. tol is the
// absolute tolerance and maxIter the iteration budget, as uniroot's tol and
// maxiter.
func zeroin(f func(float64) float64, a, b, fa, fb, tol float64, maxIter int) float64 {
	const eps = 2.220446049250313e-16
	c, fc := a, fa
	if fa == 0 {
		return a
	}
	if fb == 0 {
		return b
	}
	for range maxIter + 1 {
		prevStep := b - a
		if math.Abs(fc) < math.Abs(fb) {
			// Keep b the best approximation.
			a, b, c = b, c, b
			fa, fb, fc = fb, fc, fb
		}
		tolAct := 2*eps*math.Abs(b) + tol/2
		newStep := (c - b) / 2
		if math.Abs(newStep) <= tolAct || fb == 0 {
			return b
		}
		if math.Abs(prevStep) >= tolAct && math.Abs(fa) > math.Abs(fb) {
			// Interpolate: linear when only two points are distinct,
			// inverse quadratic otherwise.
			var p, q float64
			cb := c - b
			if a == c {
				t1 := fb / fa
				p = cb * t1
				q = 1 - t1
			} else {
				q = fa / fc
				t1 := fb / fc
				t2 := fb / fa
				p = t2 * (cb*q*(q-t1) - (b-a)*(t1-1))
				q = (q - 1) * (t1 - 1) * (t2 - 1)
			}
			if p > 0 {
				q = -q
			} else {
				p = -p
			}
			if p < 0.75*cb*q-math.Abs(tolAct*q)/2 && p < math.Abs(prevStep*q/2) {
				newStep = p / q
			}
		}
		if math.Abs(newStep) < tolAct {
			if newStep > 0 {
				newStep = tolAct
			} else {
				newStep = -tolAct
			}
		}
		a, fa = b, fb
		b += newStep
		fb = f(b)
		if (fb > 0 && fc > 0) || (fb < 0 && fc < 0) {
			c, fc = a, fa
		}
	}
	return b
}
