package lambdatest

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SelfCPU is the CPU time (user+system) this process has used.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ProcessCPU is the CPU time (utime+stime of /proc/pid/stat) process pid
// has used; 0 if it cannot be read.
func ProcessCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	f := statFields(string(b))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// ChildrenCPU is the CPU time of the live child processes of parent (the
// function processes, when a benchmark starts no others).
func ChildrenCPU(parent int) time.Duration {
	var total time.Duration
	for _, pid := range children(parent) {
		total += ProcessCPU(pid)
	}
	return total
}

// ChildrenRSS is the resident memory of the live child processes of parent,
// summed, and how many there are.
func ChildrenRSS(parent int) (bytes int64, n int) {
	for _, pid := range children(parent) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			if kb, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(kb), " kB"), 10, 64)
				bytes += v << 10
				n++
			}
		}
	}
	return bytes, n
}

// children lists the live child processes of parent.
func children(parent int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := strconv.Itoa(parent)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if f := statFields(string(b)); len(f) > 1 && f[1] == want {
			pids = append(pids, pid)
		}
	}
	return pids
}

// statFields splits /proc/pid/stat after the command name: state, ppid, ….
func statFields(s string) []string {
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return nil
	}
	return strings.Fields(s[i+2:])
}
