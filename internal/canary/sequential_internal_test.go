package canary

import (
	"math"
	"testing"
)

// TestHalfNormalMixtureAgainstQuadrature checks the closed form of the
// one-sided mixture likelihood ratio against its definition, the
// integral over θ > 0 of the normal likelihood ratio weighted by the
// half-normal density, by the trapezoid rule on a fine grid.
func TestHalfNormalMixtureAgainstQuadrature(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ x, v, tau float64 }{
		{0.01, 1e-5, 0.01},
		{0.003, 4e-6, 0.01},
		{0, 1e-4, 0.02},
		{-0.002, 1e-6, 0.01}, // z far below −5: the Mills-ratio branch
		{0.02, 2.5e-4, 0.005},
	} {
		const n = 200000
		hi := 12*tc.tau + 12*math.Sqrt(tc.v) + math.Abs(tc.x)
		h := hi / n
		sum := 0.0
		for i := 0; i <= n; i++ {
			th := float64(i) * h
			f := math.Exp(th*tc.x/tc.v-th*th/(2*tc.v)) * 2 / (tc.tau * math.Sqrt(2*math.Pi)) * math.Exp(-th*th/(2*tc.tau*tc.tau))
			if i == 0 || i == n {
				f /= 2
			}
			sum += f * h
		}
		got := logHalfNormalMixture(tc.x, tc.v, tc.tau)
		if math.Abs(got-math.Log(sum)) > 1e-4 {
			t.Errorf("log Λ(x=%v, v=%v, τ=%v) = %v, quadrature %v", tc.x, tc.v, tc.tau, got, math.Log(sum))
		}
	}
}
