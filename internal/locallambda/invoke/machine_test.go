package invoke

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

func TestConcurrencyFor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		mem  int64
		want int
	}{
		{1 << 30, 10},     // 1 GiB: 4 environments of 128 MB in half of it, but at least 10
		{8 << 30, 32},     // a small laptop
		{24 << 30, 96},    // this project's CI machine
		{1 << 40, 1000},   // 1 TiB: AWS's default is the most
		{250 << 30, 1000}, // exactly where half the memory holds 1,000
	} {
		if got := concurrencyFor(c.mem); got != c.want {
			t.Errorf("concurrencyFor(%d GiB) = %d, want %d", c.mem>>30, got, c.want)
		}
	}
}

func TestMachineConcurrencyReadsTheMachine(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("the machine's memory is read on Linux and macOS")
	}
	mem := machineMemory()
	if mem < 64<<20 || mem > 1<<50 {
		t.Fatalf("machineMemory() = %d bytes: not a machine's memory", mem)
	}
	if got, want := MachineConcurrency(), concurrencyFor(mem); got != want {
		t.Errorf("MachineConcurrency() = %d, want %d for %d MiB", got, want, mem>>20)
	}
}

func TestCPUsFor(t *testing.T) {
	t.Parallel()
	for mem, want := range map[int]int{128: 1, 1769: 1, 1770: 2, 3008: 2, 10240: 6} {
		if got := cpusFor(mem); got != want {
			t.Errorf("cpusFor(%d MB) = %d, want %d", mem, got, want)
		}
	}
}

// An environment of less than 1,769 MB runs on one CPU, as AWS gives it at
// most one vCPU's worth; the environments spread over the machine's CPUs.
// Not parallel: environments other tests start would take turns in the
// rotation.
func TestEnvironmentCPUs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CPU affinity is set on Linux only")
	}
	if runtime.NumCPU() < 2 {
		t.Skip("one CPU: nothing to narrow")
	}
	te := newTestEnv(t, Config{})
	big := te.spec(t, "big", "echo")
	big.MemoryMB = 10240
	seen := map[string]bool{}
	for i := range 4 {
		name := "cpus" + strconv.Itoa(i)
		te.spec(t, name, "echo").MemoryMB = 512
		pid := decodeEcho(t, te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String(name)})).PID
		cpus := allowedCPUs(t, pid)
		if n := len(strings.Split(cpus, ",")); n != 1 || strings.Contains(cpus, "-") {
			t.Fatalf("a 512 MB environment may run on CPUs %q, want one", cpus)
		}
		seen[cpus] = true
	}
	if len(seen) < 2 {
		t.Errorf("four environments all ran on CPU %v, want them spread", seen)
	}
	pid := decodeEcho(t, te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("big")})).PID
	if got, want := allowedCPUs(t, pid), allowedCPUs(t, os.Getpid()); got != want {
		t.Errorf("a 10,240 MB environment may run on CPUs %q, want this machine's %q", got, want)
	}
}

// allowedCPUs is the Cpus_allowed_list of process pid.
func allowedCPUs(t *testing.T, pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Cpus_allowed_list for %d", pid)
	return ""
}
