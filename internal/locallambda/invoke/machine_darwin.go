package invoke

import "golang.org/x/sys/unix"

// machineMemory is the machine's physical memory (hw.memsize); 0 if it
// cannot be read.
func machineMemory() int64 {
	n, err := unix.SysctlUint64("hw.memsize")
	if err != nil {
		return 0
	}
	return int64(n)
}
