package invoke

import (
	"bytes"
	"os"
	"strconv"
)

// machineMemory is MemTotal of /proc/meminfo, or the memory limit of this
// process's control group (cgroup v2) when that is lower; 0 if neither can
// be read.
func machineMemory() int64 {
	total := procKB("/proc/meminfo", "MemTotal:") << 10
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if limit, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64); err == nil && limit > 0 && (total == 0 || limit < total) {
			return limit
		}
	}
	return total
}
