//go:build !unix

package expr

import "time"

// processCPU is not measured here: the oracle goes by wall-clock time.
func processCPU() (time.Duration, bool) { return 0, false }
