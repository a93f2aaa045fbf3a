package invoke

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysProcAttr puts a function's process in its own process group, so that
// killGroup also ends what it started, and has the kernel kill it if Sluice
// dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the process group led by p.
func killGroup(p *os.Process) {
	if p == nil {
		return
	}
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
}

// awaitExit blocks until pid has exited without reaping it (waitid with
// WNOWAIT), so that its process group can still be killed while the pid
// cannot yet be reused.
func awaitExit(pid int) {
	const pPID, wNOWAIT = 1, 0x01000000
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|wNOWAIT, 0, 0)
		if errno != syscall.EINTR {
			return
		}
	}
}

// maxMemoryMB is the process's peak resident memory (VmHWM), for REPORT
// lines; 0 when it cannot be read.
func maxMemoryMB(pid int) int {
	return int((procKB("/proc/"+strconv.Itoa(pid)+"/status", "VmHWM:") + 1023) / 1024)
}

// procKB reads the "field: N kB" line of a /proc file; 0 when it cannot.
func procKB(path, field string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte(field)); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
			if err != nil {
				return 0
			}
			return kb
		}
	}
	return 0
}

// startProcess starts cmd with at most cpus of this process's CPUs, as AWS
// gives an environment CPU in proportion to its memory: those from the
// turn-th on, counting round the CPUs this process may use, so that
// environments started in turn spread over them. Linux children inherit
// the CPU affinity of the thread that forks them, so the calling goroutine
// holds its thread, narrows the thread's affinity for the fork and
// restores it after.
func startProcess(cmd *exec.Cmd, cpus int, turn uint32) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil || cpus >= all.Count() {
		return cmd.Start()
	}
	var ids []int
	for i := 0; len(ids) < all.Count(); i++ {
		if all.IsSet(i) {
			ids = append(ids, i)
		}
	}
	var set unix.CPUSet
	for i := range cpus {
		set.Set(ids[(int(turn%uint32(len(ids)))+i)%len(ids)])
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return cmd.Start()
	}
	err := cmd.Start()
	_ = unix.SchedSetaffinity(0, &all)
	return err
}
