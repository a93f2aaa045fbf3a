package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/status"
)

// rolloutActTimeout bounds how long a rollout command waits for the
// stage to act on it.
const rolloutActTimeout = 30 * time.Second

func (a *app) newRolloutCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Steer and inspect a $PROGRESSIVE traffic shift",
		Long: `Steer a running $PROGRESSIVE Route stage (Aws.LambdaTrafficRoutingStage with
deploymentStrategy $PROGRESSIVE) and see where it is. STAGE is the stage's id,
refId or (when no other stage has it) name.

  pause    hold the current step however long its pause is
  resume   go on from where it was paused; the paused time does not count
  promote  send all the traffic to the new version now and succeed
  abort    put the alias back as it was before the stage and fail`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	for _, c := range []struct{ name, short string }{
		{"pause", "Hold a progressive shift at its current step"},
		{"resume", "Go on with a paused progressive shift"},
		{"promote", "Send all the traffic to the new version now"},
		{"abort", "Put the alias back as it was before the stage and fail it"},
	} {
		cmd.AddCommand(a.newRolloutCommandCmd(c.name, c.short))
	}
	cmd.AddCommand(a.newRolloutStatusCmd())
	return cmd
}

func (a *app) newRolloutCommandCmd(command, short string) *cobra.Command {
	return &cobra.Command{
		Use:     command + " EXECUTION STAGE",
		Short:   short,
		Example: "  sluice rollout " + command + " 5d1c… shift",
		Args:    exactArgs("EXECUTION", "STAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			e, err := c.StageCommand(ctx, args[0], args[1], command)
			if err != nil {
				return err
			}
			s, err := cliStage(e, args[1])
			if err != nil {
				return err
			}
			given := len(stageCommandList(s))
			s, r, err := waitActedOn(ctx, c, e.ID, s.ID, given)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s: %s\n", command, rolloutLine(s, r))
			return nil
		},
	}
}

func (a *app) newRolloutStatusCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "status EXECUTION STAGE",
		Short: "Show a progressive shift's steps, their outcomes and analysis scores",
		Args:  exactArgs("EXECUTION", "STAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			e, err := c.GetExecution(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			s, err := cliStage(e, args[1])
			if err != nil {
				return err
			}
			r, err := stageRollout(s)
			if err != nil {
				return err
			}
			if done, err := out.print(a.stdout, r); done {
				return err
			}
			printRollout(a.stdout, s, r)
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

// waitActedOn waits until the stage's rollout has acted on the first
// given commands and is not between states (restoring), or the stage
// ended, and returns the stage and its rollout then. After
// rolloutActTimeout it returns them as they are.
func waitActedOn(ctx context.Context, c *apiclient.Client, execID, stageID string, given int) (*apitype.Stage, *apitype.Rollout, error) {
	deadline := time.Now().Add(rolloutActTimeout)
	for delay := 20 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		e, err := c.GetExecution(ctx, execID)
		if err != nil {
			return nil, nil, err
		}
		s, err := cliStage(e, stageID)
		if err != nil {
			return nil, nil, err
		}
		r, err := stageRollout(s)
		switch {
		case err != nil && (s.Status != status.Running || time.Now().After(deadline)):
			return nil, nil, err
		case err == nil:
			settled := r.Commands >= given && r.Status != apitype.RolloutRestoring
			if settled || s.Status.Complete() || time.Now().After(deadline) {
				return s, r, nil
			}
		}
		// A running stage that took the command but has not recorded its
		// rollout yet is about to: wait for it.
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(delay):
		}
	}
}

// cliStage finds a stage of e by id, refId or name, as the API does.
func cliStage(e *apitype.Execution, ref string) (*apitype.Stage, error) {
	for _, match := range []func(s *apitype.Stage) bool{
		func(s *apitype.Stage) bool { return s.ID == ref },
		func(s *apitype.Stage) bool { return s.RefID == ref },
		func(s *apitype.Stage) bool { return s.Name == ref },
	} {
		for i := range e.Stages {
			if match(&e.Stages[i]) {
				return &e.Stages[i], nil
			}
		}
	}
	return nil, fmt.Errorf("execution %s has no stage %q", e.ID, ref)
}

// stageRollout reads a stage's rollout output.
func stageRollout(s *apitype.Stage) (*apitype.Rollout, error) {
	var out struct {
		Rollout *apitype.Rollout `json:"rollout"`
	}
	if len(s.Outputs) > 0 {
		if err := json.Unmarshal(s.Outputs, &out); err != nil {
			return nil, fmt.Errorf("read the rollout of stage %s: %w", s.RefID, err)
		}
	}
	if out.Rollout == nil {
		what := "not a $PROGRESSIVE route"
		if s.Status == status.NotStarted || s.Status == "" {
			what = "not started"
		}
		return nil, errors.New("stage " + s.RefID + " (" + s.Name + ") has no rollout: it is a " + s.Type + " stage that is " + what + "; name the Route stage with deploymentStrategy $PROGRESSIVE")
	}
	return out.Rollout, nil
}

// stageCommandList is the commands given to the stage so far.
func stageCommandList(s *apitype.Stage) []any {
	var ctx struct {
		Commands []any `json:"stageCommands"`
	}
	_ = json.Unmarshal(s.Context, &ctx)
	return ctx.Commands
}

// rolloutLine says in one line where a rollout is.
func rolloutLine(s *apitype.Stage, r *apitype.Rollout) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rollout of alias %s from version %s to version %s is %s", r.Alias, r.Baseline, r.Canary, r.Status)
	if r.Step < len(r.Steps) && (r.Status == apitype.RolloutShifting || r.Status == apitype.RolloutPaused) {
		fmt.Fprintf(&b, " at step %d of %d (%v%%)", r.Step+1, len(r.Steps), r.Steps[r.Step].Weight)
	}
	if r.Reason != "" {
		fmt.Fprintf(&b, ": %s", r.Reason)
	}
	fmt.Fprintf(&b, "; stage %s %s", s.RefID, s.Status)
	return b.String()
}

// printRollout prints a rollout's state and its steps.
func printRollout(w io.Writer, s *apitype.Stage, r *apitype.Rollout) {
	tw := newTable(w)
	fmt.Fprintf(tw, "stage\t%s (%s) %s\n", s.RefID, s.Name, s.Status)
	fmt.Fprintf(tw, "alias\t%s: version %s → version %s\n", r.Alias, r.Baseline, r.Canary)
	fmt.Fprintf(tw, "status\t%s\n", r.Status)
	if r.Step < len(r.Steps) {
		fmt.Fprintf(tw, "step\t%d of %d\n", r.Step+1, len(r.Steps))
	}
	if r.Reason != "" {
		fmt.Fprintf(tw, "reason\t%s\n", r.Reason)
	}
	if len(s.Commands) > 0 {
		fmt.Fprintf(tw, "commands\t%s\n", strings.Join(s.Commands, ", "))
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "STEP\tWEIGHT\tPAUSE\tOUTCOME\tANALYSIS")
	for i, st := range r.Steps {
		outcome, analysis := "-", "-"
		if st.Analysis {
			analysis = "pending"
		}
		for _, h := range r.History {
			if h.Step != i+1 {
				continue
			}
			outcome = h.Outcome
			if outcome == "" {
				outcome = "running"
				if r.Status == apitype.RolloutPaused {
					outcome = "paused"
				}
			}
			if h.Analysis != nil && h.Analysis.Decision != nil {
				analysis = h.Analysis.Decision.Describe()
			}
			if len(h.AlarmsFiring) > 0 {
				names := make([]string, len(h.AlarmsFiring))
				for j, al := range h.AlarmsFiring {
					names[j] = al.Name
				}
				outcome += " (in ALARM: " + strings.Join(names, ", ") + ")"
			}
		}
		fmt.Fprintf(tw, "%d\t%v%%\t%s\t%s\t%s\n", i+1, st.Weight, formatDuration(st.Pause), outcome, analysis)
	}
	_ = tw.Flush()
}
