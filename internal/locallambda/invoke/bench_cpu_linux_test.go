package invoke

import (
	"time"

	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// environmentsCPU is the CPU time the live environments' processes have
// used, for benchmarks that report CPU per invoke.
func environmentsCPU(iv *Invoker) time.Duration {
	iv.mu.RLock()
	fns := make([]*fnState, 0, len(iv.functions))
	for _, fs := range iv.functions {
		fns = append(fns, fs)
	}
	iv.mu.RUnlock()
	var total time.Duration
	for _, fs := range fns {
		fs.mu.Lock()
		pools := make([]*pool, 0, len(fs.pools))
		for _, p := range fs.pools {
			pools = append(pools, p)
		}
		fs.mu.Unlock()
		for _, p := range pools {
			for _, e := range p.snapshot() {
				total += lambdatest.ProcessCPU(e.cmd.Process.Pid)
			}
		}
	}
	return total
}
