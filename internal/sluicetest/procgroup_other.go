//go:build !unix

package sluicetest

import "os/exec"

// ownProcessGroup kills only cmd where there are no Unix process groups.
func ownProcessGroup(cmd *exec.Cmd) (kill func()) {
	return func() { _ = cmd.Process.Kill() }
}
