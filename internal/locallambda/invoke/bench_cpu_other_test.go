//go:build !linux

package invoke

import "time"

// environmentsCPU is measured on Linux only.
func environmentsCPU(*Invoker) time.Duration { return 0 }
