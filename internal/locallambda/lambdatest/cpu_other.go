//go:build !linux

package lambdatest

import "time"

// SelfCPU is measured on Linux only.
func SelfCPU() time.Duration { return 0 }

// ProcessCPU is measured on Linux only.
func ProcessCPU(int) time.Duration { return 0 }

// ChildrenCPU is measured on Linux only.
func ChildrenCPU(int) time.Duration { return 0 }

// ChildrenRSS is 0: only Linux is measured.
func ChildrenRSS(int) (int64, int) { return 0, 0 }
