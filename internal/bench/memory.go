package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/status"
)

// MemoryResult is the resident memory of a `sluice serve` process.
type MemoryResult struct {
	IdleKB    int64 // after start-up, with nothing to do
	WaitingKB int64 // with Waiting executions parked at a manual judgment
	Waiting   int
	StartUp   time.Duration // from exec to the server answering /health
}

const holdPipeline = `{"application":"bench","name":"hold","limitConcurrent":false,
 "stages":[{"refId":"1","type":"manualJudgment","name":"Hold","instructions":"benchmark"}]}`

// Memory starts `bin serve` on a fresh data directory, measures its RSS
// idle, then with `waiting` executions parked at a judgment.
func Memory(ctx context.Context, bin string, waiting int) (*MemoryResult, error) {
	dir, err := os.MkdirTemp("", "sluice-bench-memory-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	addrFile := filepath.Join(dir, "addr")
	begin := time.Now()
	cmd := exec.CommandContext(ctx, bin, "serve", "--addr", "127.0.0.1:0", "--lambda-addr", "127.0.0.1:0", "--addr-file", addrFile,
		"--data-dir", filepath.Join(dir, "data"), "--log-level", "error")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	var c *apiclient.Client
	for deadline := time.Now().Add(30 * time.Second); ; {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			token, _ := os.ReadFile(filepath.Join(dir, "data", "admin.token"))
			if c, err = apiclient.New(strings.TrimSpace(string(b)), apiclient.WithToken(strings.TrimSpace(string(token)))); err != nil {
				return nil, err
			}
			if _, err := c.Health(ctx); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			return nil, errors.New("sluice serve did not answer within 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	res := &MemoryResult{StartUp: time.Since(begin), Waiting: waiting}
	time.Sleep(2 * time.Second) // let start-up work settle
	if res.IdleKB, err = rssKB(cmd.Process.Pid); err != nil {
		return nil, err
	}

	if _, err := c.PutPipeline(ctx, "bench", "hold", []byte(holdPipeline), "application/json"); err != nil {
		return nil, err
	}
	// Count executions reaching the judgment from the event stream.
	parked := make(chan struct{})
	var count atomic.Int64
	streamCtx, stop := context.WithCancel(ctx)
	defer stop()
	go c.FollowEvents(streamCtx, func(ev apitype.Event) error {
		var data apitype.StageStatusData
		json.Unmarshal(ev.Data, &data)
		if ev.Type == apitype.EventStageStatus && data.Status == status.Running && data.Name == "Hold" {
			if count.Add(1) == int64(waiting) {
				close(parked)
			}
		}
		return nil
	})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	next := atomic.Int64{}
	for range 8 {
		wg.Go(func() {
			for next.Add(1) <= int64(waiting) {
				if _, err := c.Trigger(ctx, "bench", "hold", apitype.TriggerRequest{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("trigger: %w", err)
	}
	select {
	case <-parked:
	case <-time.After(5 * time.Minute):
		return nil, fmt.Errorf("only %d of %d executions reached the judgment in 5 minutes", count.Load(), waiting)
	}
	time.Sleep(2 * time.Second)
	if res.WaitingKB, err = rssKB(cmd.Process.Pid); err != nil {
		return nil, err
	}
	return res, nil
}

// rssKB reads a process's resident set size from /proc.
func rssKB(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}
