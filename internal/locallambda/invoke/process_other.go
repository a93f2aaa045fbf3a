//go:build !linux

package invoke

import (
	"os"
	"os/exec"
	"syscall"
)

// sysProcAttr: process groups and parent-death signals are set up on Linux
// only; elsewhere a function's own children may outlive it.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// killGroup kills p (only p, outside Linux).
func killGroup(p *os.Process) {
	if p != nil {
		_ = p.Kill()
	}
}

// awaitExit returns at once outside Linux; wait reaps the process itself.
func awaitExit(int) {}

// maxMemoryMB is not measured outside Linux.
func maxMemoryMB(int) int { return 0 }

// startProcess starts cmd on any CPU: affinity is set on Linux only.
func startProcess(cmd *exec.Cmd, _ int, _ uint32) error { return cmd.Start() }
