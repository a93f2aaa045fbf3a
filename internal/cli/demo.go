package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/examples"
	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/store"
)

// The demo runs this bundled example.
const (
	demoFile        = "pipelines/hello-judgment.json"
	demoApplication = "hello"
	demoPipeline    = "first-release"
	demoJudgment    = "Approve"
)

type demoOptions struct {
	Yes      bool
	Rollback bool
	DataDir  string
	Addr     string
}

func (a *app) newDemoCmd() *cobra.Command {
	var opts demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the bundled example pipeline on an embedded server",
		Long: `Run Sluice's bundled example pipeline from start to finish on an embedded server:
no AWS account, no database server, nothing else to start.

The demo starts a server in its own data directory (a temporary one unless
--data-dir is given), applies the example pipeline, runs it and prints each
step. At the manual judgment it promotes with --yes, rolls back with
--rollback, and otherwise tells you the command that judges it and waits.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Yes && opts.Rollback {
				return usageError("--yes and --rollback contradict each other", "give one of them, or neither to judge by hand")
			}
			return a.runDemo(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Yes, "yes", false, "promote at the judgment without asking")
	f.BoolVar(&opts.Rollback, "rollback", false, "roll back at the judgment without asking")
	f.StringVar(&opts.DataDir, "data-dir", "", "keep the demo's data here (default: a temporary directory, removed afterwards)")
	f.StringVar(&opts.Addr, "addr", "127.0.0.1:0", "address of the embedded server; port 0 picks a free port")
	return cmd
}

func (a *app) runDemo(ctx context.Context, opts demoOptions) error {
	dataDir := opts.DataDir
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "sluice-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dataDir = tmp
	}
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := startNode(ctx, nodeOptions{DataDir: dataDir, LambdaAddr: LambdaOff, Logger: log, Version: version()})
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		n.close(stopCtx)
	}()
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}
	srv := &http.Server{Handler: n.api, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String()

	user := a.userName()
	if user == "" {
		user = "demo"
	}
	c, err := apiclient.New(url, apiclient.WithUser(user))
	if err != nil {
		return err
	}
	doc, err := examples.Pipelines.ReadFile(demoFile)
	if err != nil {
		return err
	}
	if _, err := c.PutPipeline(ctx, demoApplication, demoPipeline, doc, "application/json"); err != nil {
		return fmt.Errorf("apply the example pipeline: %w", err)
	}
	fmt.Fprintf(a.stdout, "Sluice demo: an embedded server at %s, data in %s\n", url, dataDir)
	fmt.Fprintf(a.stdout, "Applied %s/%s (examples/%s) and running it:\n\n", demoApplication, demoPipeline, demoFile)

	start := time.Now()
	exec, err := c.Trigger(ctx, demoApplication, demoPipeline, apitype.TriggerRequest{})
	if err != nil {
		return err
	}
	final, err := a.followDemo(ctx, c, exec.ID, url, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "\nExecution %s %s in %s.\n", final.ID, final.Status, formatDuration(time.Since(start)))
	for _, s := range final.Stages {
		var out map[string]any
		_ = json.Unmarshal(s.Outputs, &out)
		if result, ok := out["result"].(string); ok {
			fmt.Fprintf(a.stdout, "Result: %s\n", result)
		}
	}
	return executionExit(final)
}

// followDemo prints the execution's events and answers the judgment as
// the options say, until the execution completes.
func (a *app) followDemo(ctx context.Context, c *apiclient.Client, id, url string, opts demoOptions) (*apitype.Execution, error) {
	first, err := c.GetExecution(ctx, id)
	if err != nil {
		return nil, err
	}
	stages := map[string]apitype.Stage{}
	for _, s := range first.Stages {
		stages[s.ID] = s
	}
	asked := false
	var final *apitype.Execution
	err = c.FollowExecution(ctx, id, func(ev apitype.Event) error {
		fmt.Fprintln(a.stdout, "  "+formatEvent(ev, stages))
		var data struct {
			Status store.ExecutionStatus `json:"status"`
			Name   string                `json:"name"`
		}
		_ = json.Unmarshal(ev.Data, &data)
		switch {
		case ev.Type == "stage.status" && data.Name == demoJudgment && data.Status == store.StatusRunning && !asked:
			asked = true
			return a.demoJudge(ctx, c, id, url, opts)
		case ev.Type == "execution.status" && data.Status.Complete():
			e, err := c.GetExecution(ctx, id)
			if err != nil {
				return err
			}
			final = e
			return apiclient.ErrStopFollowing
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if final == nil {
		return nil, errors.New("the event stream ended before the execution completed")
	}
	return final, nil
}

func (a *app) demoJudge(ctx context.Context, c *apiclient.Client, id, url string, opts demoOptions) error {
	input := ""
	switch {
	case opts.Yes:
		input = "promote"
	case opts.Rollback:
		input = "rollback"
	default:
		fmt.Fprintf(a.stdout, `
  The pipeline now waits for a person. In another terminal, promote with
    sluice judge %[1]s %[2]s continue --input promote --server %[3]s
  or roll back with
    sluice judge %[1]s %[2]s continue --input rollback --server %[3]s
  (or run the demo with --yes or --rollback to answer for you).

`, id, demoJudgment, url)
		return nil
	}
	fmt.Fprintf(a.stdout, "  → judging %q: continue with %q\n", demoJudgment, input)
	_, err := c.Judge(ctx, id, demoJudgment, apitype.JudgmentRequest{Status: apitype.JudgmentContinue, Input: input})
	return err
}
