package invoke

// Account concurrency the machine can hold. On AWS an account runs 1,000
// environments at once by default; here every environment is a process
// on this machine, so the local Lambda's default is what its memory holds.

const (
	// awsAccountConcurrency is AWS's default account limit, and the most
	// the machine's default grows to.
	awsAccountConcurrency = 1000
	// minMachineConcurrency is the least the default falls to.
	minMachineConcurrency = 10
	// envMemoryBytes is what the default counts per environment: Lambda's
	// default memory size, 128 MB.
	envMemoryBytes = 128 << 20
)

// MachineConcurrency is the default account concurrency limit of the local
// Lambda: half of this machine's memory (or of its control group's limit,
// if lower) in environments of 128 MB, Lambda's default memory size,
// between 10 and AWS's default of 1,000. Where the memory cannot be read
// it is AWS's default.
func MachineConcurrency() int {
	mem := machineMemory()
	if mem <= 0 {
		return awsAccountConcurrency
	}
	return concurrencyFor(mem)
}

// concurrencyFor is the default account concurrency of a machine with mem
// bytes of memory.
func concurrencyFor(mem int64) int {
	return int(min(max(mem/2/envMemoryBytes, minMachineConcurrency), awsAccountConcurrency))
}
