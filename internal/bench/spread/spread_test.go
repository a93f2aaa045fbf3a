package spread_test

import (
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/bench/spread"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		v    []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{0.94, 0.70, 0.89, 0.75}, 0.82},
		{[]float64{5, 1, 3}, 3},
		{[]float64{2, 2, 9, 1}, 2},
	} {
		in := append([]float64(nil), c.v...)
		if got := spread.Median(c.v); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("Median(%v) = %v, want %v", in, got, c.want)
		}
		for i := range in {
			if c.v[i] != in[i] {
				t.Errorf("Median reordered its argument: %v, was %v", c.v, in)
				break
			}
		}
	}
	if got := spread.Median([]time.Duration{4 * time.Millisecond, time.Millisecond, 2 * time.Millisecond, 9 * time.Millisecond}); got != 3*time.Millisecond {
		t.Errorf("median of 1, 2, 4, 9 ms = %v, want 3ms", got)
	}
	if got := spread.MinMedMax([]float64{0.94, 0.70, 0.89, 0.75}); got != "0.70 / 0.82 / 0.94" {
		t.Errorf("MinMedMax = %q", got)
	}
}
