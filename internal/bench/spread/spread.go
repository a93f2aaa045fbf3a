// Package spread summarises a benchmark's repeated measurements: the
// median, and min / median / max. It imports nothing of Sluice's, so
// benchmarks in any package, and the CLI's bench commands, share one
// definition of the median.
package spread

import (
	"fmt"
	"slices"
)

// Number is what the median is taken of: float64 figures and durations.
type Number interface{ ~int64 | ~float64 }

// Median is the middle value of v, or the mean of the two middle values
// when v's length is even (so four rounds of 0.70, 0.75, 0.89, 0.94 have
// the median 0.82, not 0.89). v need not be sorted and is not changed. It
// is zero for no values.
func Median[T Number](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return s[m-1] + (s[m]-s[m-1])/2
}

// MinMedMax formats the min, median and max of v as "min / median / max",
// each with two decimals.
func MinMedMax(v []float64) string {
	if len(v) == 0 {
		return "no values"
	}
	return fmt.Sprintf("%.2f / %.2f / %.2f", slices.Min(v), Median(v), slices.Max(v))
}
