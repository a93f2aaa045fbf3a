package locallambda

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// processCPU returns the CPU time (user+system) of this process and the sum
// over the live environments' processes, for benchmarks that report CPU per
// invoke: a figure that, unlike throughput, does not move with the load of
// the rest of the machine.
func processCPU(iv *Invoker) (self, functions time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	iv.mu.RLock()
	fns := make([]*fnState, 0, len(iv.functions))
	for _, fs := range iv.functions {
		fns = append(fns, fs)
	}
	iv.mu.RUnlock()
	for _, fs := range fns {
		fs.mu.Lock()
		pools := make([]*pool, 0, len(fs.pools))
		for _, p := range fs.pools {
			pools = append(pools, p)
		}
		fs.mu.Unlock()
		for _, p := range pools {
			for _, e := range p.snapshot() {
				functions += procStatCPU(e.cmd.Process.Pid)
			}
		}
	}
	return self, functions
}

// procStatCPU reads utime+stime of pid from /proc/pid/stat.
func procStatCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}
