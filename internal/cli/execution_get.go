package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/apitype"
)

func (a *app) newExecutionGetCmd() *cobra.Command {
	var (
		out    *outputFormat
		follow bool
	)
	cmd := &cobra.Command{
		Use:   "get EXECUTION",
		Short: "Show an execution and its stages",
		Long: `Show an execution and its stages. With --follow, show its progress until it
completes and exit as 'sluice run --follow' does.`,
		Args: exactArgs("EXECUTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if follow {
				return a.follow(cmd.Context(), c, args[0])
			}
			e, err := c.GetExecution(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if done, err := out.print(a.stdout, e); done {
				return err
			}
			printExecution(a.stdout, e, time.Now())
			return nil
		},
	}
	out = addOutputFlag(cmd)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "show progress until the execution completes, and exit with its result")
	return cmd
}

// printExecution prints an execution's summary and its stage board, without
// colors.
func printExecution(w io.Writer, e *apitype.Execution, now time.Time) {
	var trigger struct {
		Type       string         `json:"type"`
		User       string         `json:"user"`
		Parameters map[string]any `json:"parameters"`
	}
	_ = json.Unmarshal(e.Trigger, &trigger)
	fmt.Fprintf(w, "execution %s\n", e.ID)
	fmt.Fprintf(w, "pipeline  %s/%s (revision %d)\n", e.Application, e.PipelineName, e.Revision)
	fmt.Fprintf(w, "status    %s\n", e.Status)
	fmt.Fprintf(w, "trigger   %s by %s at %s\n", cmp.Or(trigger.Type, "-"), cmp.Or(e.User, "-"), formatTime(e.BuildTime))
	if len(trigger.Parameters) > 0 {
		params, _ := json.Marshal(trigger.Parameters)
		fmt.Fprintf(w, "params    %s\n", params)
	}
	if e.StartTime != nil {
		fmt.Fprintf(w, "duration  %s\n", formatDuration(span(e.StartTime, e.EndTime, now)))
	}
	printNotifications(w, e.Notifications)
	fmt.Fprintln(w)
	fmt.Fprint(w, renderBoard(e, now, false))
}

// printNotifications lists the execution's notification deliveries: the
// event (and stage), channel, address, result, attempts and last error.
func printNotifications(w io.Writer, ds []apitype.NotificationDelivery) {
	if len(ds) == 0 {
		return
	}
	fmt.Fprintln(w, "notifications")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, d := range ds {
		event := d.Event
		if d.StageRefID != "" {
			event += " (stage " + d.StageRefID + ")"
		}
		attempts := fmt.Sprintf("%d attempt", d.Attempts)
		if d.Attempts != 1 {
			attempts += "s"
		}
		line := fmt.Sprintf("  %s\t%s\t%s\t%s\t%s", event, d.Type, d.Address, d.Status, attempts)
		if d.Error != "" {
			line += "\t" + d.Error
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}
