package canary_test

import (
	"math"
	"slices"
	"testing"

	"github.com/sluice-cd/sluice/internal/canary"
)

// samplesFrom decodes fuzz bytes into two short sample vectors: each value
// is one byte, so ties and repeated values are common; 255 is NaN and 254
// a large outlier. The first byte splits the rest between the sides.
func samplesFrom(b []byte) (control, experiment []float64) {
	if len(b) == 0 {
		return nil, nil
	}
	split := int(b[0])
	for i, c := range b[1:] {
		var v float64
		switch c {
		case 255:
			v = math.NaN()
		case 254:
			v = 1e9
		default:
			v = float64(c) / 8
		}
		if i < split {
			control = append(control, v)
		} else {
			experiment = append(experiment, v)
		}
	}
	return control, experiment
}

// maxEvaluations bounds the work of one test: the two interval roots and
// the estimate take at most 1001 Brent steps each, plus the four end
// evaluations. It is the fuzz target's time bound, counted rather than
// timed so that it holds on any machine.
const maxEvaluations = 3*1001 + 4

// FuzzClassifyMetric feeds arbitrary samples and options through the judge
// and the rank-sum test and checks what must hold for any input: no panic,
// a known classification, a consistent interval and a bounded amount of
// work.
func FuzzClassifyMetric(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3, 4, 5, 6}, uint8(0))
	f.Add([]byte{2, 255, 255, 8, 8}, uint8(1))
	f.Add([]byte{1, 8, 16}, uint8(2))
	f.Add([]byte{4, 0, 0, 0, 0, 0, 0, 0, 1, 254}, uint8(7))
	f.Add([]byte{20, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51}, uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, opts uint8) {
		if len(data) > 401 {
			data = data[:401]
		}
		ctl, exp := samplesFrom(data)
		spec := canary.MetricSpec{
			Name:         "fuzz",
			Groups:       []string{"g"},
			Direction:    []canary.Direction{canary.DirectionEither, canary.DirectionIncrease, canary.DirectionDecrease, ""}[opts&3],
			Critical:     opts&4 != 0,
			MustHaveData: opts&8 != 0,
		}
		if opts&16 != 0 {
			spec.NaNStrategy = canary.NaNReplace
		}
		if opts&32 != 0 {
			spec.Outliers = canary.Outliers{Strategy: "remove"}
		}
		if opts&64 != 0 {
			spec.EffectSize.Measure = canary.EffectCLES
		}
		r, err := canary.ClassifyMetric(canary.MetricSamples{Metric: spec, Control: ctl, Experiment: exp})
		if err != nil {
			t.Fatalf("ClassifyMetric: %v", err)
		}
		known := []canary.Classification{canary.ClassPass, canary.ClassHigh, canary.ClassLow,
			canary.ClassNodata, canary.ClassNodataFailMetric, canary.ClassError}
		if !slices.Contains(known, r.Classification) {
			t.Fatalf("classification %q", r.Classification)
		}
		if r.Critical && !spec.Critical {
			t.Fatalf("a metric not configured critical came back critical: %+v", r)
		}
		if r.Test != nil {
			checkTest(t, *r.Test)
		}
		s := canary.Score([]canary.MetricResult{r}, nil)
		if s.Score < 0 || s.Score > 100 {
			t.Fatalf("score %v outside [0, 100]", s.Score)
		}

		// The test itself, on the cleaned samples, in both modes.
		ctl, exp = finite(ctl), finite(exp)
		if len(ctl) == 0 || len(exp) == 0 {
			return
		}
		for _, mode := range []canary.ExactMode{canary.ExactAuto, canary.ExactNever} {
			res, err := canary.RankSumTest(exp, ctl, 0.98, mode)
			if err != nil {
				continue // all tied at some shift: reported, never a panic
			}
			checkTest(t, res)
			lo := slices.Min(exp) - slices.Max(ctl)
			hi := slices.Max(exp) - slices.Min(ctl)
			if res.Lower < lo || res.Upper > hi || res.Estimate < lo || res.Estimate > hi {
				t.Fatalf("interval [%v, %v] or estimate %v outside the shift range [%v, %v]", res.Lower, res.Upper, res.Estimate, lo, hi)
			}
			if res.Exact && (res.Estimate < res.Lower || res.Estimate > res.Upper) {
				t.Fatalf("exact estimate %v outside its interval [%v, %v]", res.Estimate, res.Lower, res.Upper)
			}
		}
	})
}

func checkTest(t *testing.T, r canary.RankSumResult) {
	t.Helper()
	if r.Evaluations > maxEvaluations {
		t.Fatalf("%d evaluations, bound %d", r.Evaluations, maxEvaluations)
	}
	// Each end is a root located only to uniroot's tolerance of 1e-4 (1e-4/2
	// plus rounding either side of the crossing), so where the statistic
	// jumps at one shift R's own interval can come out inverted by up to
	// that much (the step-at-zero-inverted golden case).
	slack := 2e-4 + 8*2.220446049250313e-16*math.Max(math.Abs(r.Lower), math.Abs(r.Upper))
	if !(r.Lower <= r.Upper+slack) {
		t.Fatalf("interval [%v, %v] is inverted beyond the root tolerance, or NaN", r.Lower, r.Upper)
	}
	if !(r.PValue >= 0 && r.PValue <= 1) {
		t.Fatalf("p-value %v outside [0, 1]", r.PValue)
	}
}

func finite(v []float64) []float64 {
	var out []float64
	for _, x := range v {
		if !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return out
}
