//go:build !linux

package locallambda

import "time"

// processCPU is measured on Linux only.
func processCPU(*Invoker) (self, functions time.Duration) { return 0, 0 }
