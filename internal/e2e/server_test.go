package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// buildSluice builds the sluice binary once per test run.
func buildSluice(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-e2e-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "sluice")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, "github.com/sluice-cd/sluice/cmd/sluice").CombinedOutput()
		if err != nil {
			buildOnce.err = &buildError{out: string(out), err: err}
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.out }

// server is a `sluice serve` child process.
type server struct {
	cmd     *exec.Cmd
	url     string
	dataDir string
	done    chan struct{}
	out     *output // what it wrote to stdout and stderr
}

func startServer(t *testing.T, bin, dataDir string, args ...string) *server {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--lambda-addr", "127.0.0.1:0", "--addr-file", addrFile,
		"--data-dir", dataDir, "--log-level", "warn"}, args...)...)
	out := &output{}
	cmd.Stdout = testLog{t, "serve", out}
	cmd.Stderr = testLog{t, "serve", out}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, dataDir: dataDir, done: make(chan struct{}), out: out}
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.kill(syscall.SIGKILL) })
	sluicetest.WaitFor(t, "the server to listen", time.Minute, func() bool {
		select {
		case <-s.done:
			t.Fatalf("sluice serve exited: %v", cmd.ProcessState)
		default:
		}
		b, err := os.ReadFile(addrFile)
		s.url = strings.TrimSpace(string(b))
		return err == nil && s.url != ""
	})
	return s
}

// kill sends sig and waits for the process to exit.
func (s *server) kill(sig syscall.Signal) {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(sig)
	<-s.done
}

// client is an API client of s with the admin token the server wrote to
// its data directory, as the CLI on the same machine would use.
func (s *server) client(t *testing.T) *apiclient.Client {
	t.Helper()
	token, err := os.ReadFile(filepath.Join(s.dataDir, auth.AdminTokenFile))
	if err != nil {
		t.Fatalf("read the admin token: %v", err)
	}
	c, err := apiclient.New(s.url, apiclient.WithToken(strings.TrimSpace(string(token))))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testLog sends a child's output to the test log, and keeps it in out
// when set.
type testLog struct {
	t      *testing.T
	prefix string
	out    *output
}

func (l testLog) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.t.Log(l.prefix + ": " + line)
	}
	if l.out != nil {
		l.out.mu.Lock()
		l.out.b.Write(p)
		l.out.mu.Unlock()
	}
	return len(p), nil
}

// output is what a child process wrote.
type output struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}
