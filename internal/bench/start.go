package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"time"
)

// StartRun is one `sluice run` measured from the moment it was started:
// until the process exited (Wall), the CPU time it used, and until the
// server marked the execution's first stage RUNNING (FirstStage, the
// server's clock on the same machine, to its millisecond).
type StartRun struct {
	Wall, CPU, FirstStage time.Duration
}

// Start starts `server serve` on a fresh SQLite data directory, saves a
// pipeline whose one stage is a manual judgment (it stays RUNNING), and runs
// `bin run bench/start` with the server's address and admin token runs
// times for each of bins, taking the binaries in turn. It returns the runs
// of each binary.
func Start(ctx context.Context, server string, bins []string, runs int) ([][]StartRun, error) {
	c, stop, err := startServer(ctx, server)
	if err != nil {
		return nil, err
	}
	defer stop()
	if _, err := c.call(ctx, http.MethodPut, "/api/v1/pipelines/bench/start", []byte(linear("start", "manualJudgment", 1))); err != nil {
		return nil, err
	}
	out := make([][]StartRun, len(bins))
	for range runs {
		for i, bin := range bins {
			r, err := startOnce(ctx, c, bin)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", bin, err)
			}
			out[i] = append(out[i], r)
		}
	}
	return out, nil
}

func startOnce(ctx context.Context, c *apiCaller, bin string) (StartRun, error) {
	cmd := exec.CommandContext(ctx, bin, "run", "bench/start", "--server", c.base)
	cmd.Env = append(cmd.Environ(), "SLUICE_TOKEN="+c.token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	begin := time.Now()
	if err := cmd.Run(); err != nil {
		return StartRun{}, fmt.Errorf("run: %w: %s", err, stderr.Bytes())
	}
	r := StartRun{Wall: time.Since(begin), CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	id := strings.TrimSpace(stdout.String())
	for deadline := time.Now().Add(10 * time.Second); ; {
		body, err := c.call(ctx, http.MethodGet, "/api/v1/executions/"+id, nil)
		if err != nil {
			return StartRun{}, err
		}
		var exec struct {
			Stages []struct {
				StartTime *int64 `json:"startTime"`
			} `json:"stages"`
		}
		if err := json.Unmarshal(body, &exec); err != nil {
			return StartRun{}, err
		}
		if len(exec.Stages) > 0 && exec.Stages[0].StartTime != nil {
			r.FirstStage = time.UnixMilli(*exec.Stages[0].StartTime).Sub(begin.Truncate(time.Millisecond))
			return r, nil
		}
		if time.Now().After(deadline) {
			return StartRun{}, fmt.Errorf("execution %s: its first stage is not RUNNING after 10 s", id)
		}
		time.Sleep(time.Millisecond)
	}
}
