package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// APIResult is one run of API: how long the executions took from the first
// trigger until the last succeeded, and how long the triggers themselves
// took.
type APIResult struct {
	Executions int
	Stages     int
	Triggers   time.Duration
	Total      time.Duration
}

// API starts `bin serve` on a fresh SQLite data directory and drives it
// as a client would, over HTTP: it saves a pipeline of `stages` wait-0
// stages, triggers `executions` executions of it from 8 clients at once,
// and follows the list of executions until every one succeeded. Every
// request authenticates with the server's admin token when the server
// made one (DATA_DIR/admin.token), so the same run measures a sluice from
// before authentication existed, as a baseline.
func API(ctx context.Context, bin string, executions, stages int) (*APIResult, error) {
	c, stop, err := startServer(ctx, bin)
	if err != nil {
		return nil, err
	}
	defer stop()
	if _, err := c.call(ctx, http.MethodPut, "/api/v1/pipelines/bench/api", []byte(linear("api", "wait", stages))); err != nil {
		return nil, err
	}
	res := &APIResult{Executions: executions, Stages: stages}
	start := time.Now()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	work := make(chan struct{}, executions)
	for range executions {
		work <- struct{}{}
	}
	close(work)
	for range 8 {
		wg.Go(func() {
			for range work {
				if _, err := c.call(ctx, http.MethodPost, "/api/v1/pipelines/bench/api/executions", []byte(`{}`)); err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	res.Triggers = time.Since(start)
	for {
		body, err := c.call(ctx, http.MethodGet, "/api/v1/executions?application=bench&status=SUCCEEDED&limit=500", nil)
		if err != nil {
			return nil, err
		}
		var page struct {
			Executions []json.RawMessage `json:"executions"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, err
		}
		if len(page.Executions) >= executions {
			break
		}
		if time.Since(start) > 5*time.Minute {
			return nil, fmt.Errorf("%d of %d executions succeeded within 5 minutes", len(page.Executions), executions)
		}
		time.Sleep(10 * time.Millisecond)
	}
	res.Total = time.Since(start)
	return res, nil
}

// startServer starts `bin serve` without a local Lambda on a fresh SQLite
// data directory, waits until it answers, and returns a caller with the
// server's admin token (none if the server made none) and a function that
// stops the server and removes the directory.
func startServer(ctx context.Context, bin string) (*apiCaller, func(), error) {
	dir, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		return nil, nil, err
	}
	addrFile := filepath.Join(dir, "addr")
	cmd := exec.CommandContext(ctx, bin, "serve", "--addr", "127.0.0.1:0", "--lambda-addr", "off", "--addr-file", addrFile,
		"--data-dir", filepath.Join(dir, "data"), "--log-level", "error")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	stop := func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
	}
	c := &apiCaller{http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			c.base = strings.TrimSpace(string(b))
			if _, err := c.call(ctx, http.MethodGet, "/api/v1/health", nil); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, errors.New("sluice serve did not answer within 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "data", "admin.token")); err == nil {
		c.token = strings.TrimSpace(string(b))
	}
	return c, stop, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// apiCaller sends JSON requests to one server.
type apiCaller struct {
	http  *http.Client
	base  string
	token string
}

func (c *apiCaller) call(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	return b, nil
}
