//go:build !linux && !darwin

package invoke

// machineMemory is not read on this system: the default is AWS's.
func machineMemory() int64 { return 0 }
