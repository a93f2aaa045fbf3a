package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/status"
)

func (a *app) newExecutionListCmd() *cobra.Command {
	var (
		opts     apiclient.ListOptions
		statuses string
		all      bool
		out      *outputFormat
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List executions, newest first",
		Example: `  sluice execution list --application myapp --status RUNNING,PAUSED
  sluice execution list -o ids --pipeline deploy --limit 1`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if statuses != "" {
				for s := range strings.SplitSeq(strings.ToUpper(statuses), ",") {
					opts.Statuses = append(opts.Statuses, status.Status(s))
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var list []apitype.Execution
			for {
				page, err := c.ListExecutions(cmd.Context(), opts)
				if err != nil {
					return err
				}
				list = append(list, page.Executions...)
				if !all || page.NextCursor == "" {
					break
				}
				opts.Cursor = page.NextCursor
			}
			if done, err := out.print(a.stdout, list); done {
				return err
			}
			if out.value == "ids" {
				for _, e := range list {
					fmt.Fprintln(a.stdout, e.ID)
				}
				return nil
			}
			if len(list) == 0 {
				fmt.Fprintln(a.stderr, "no executions")
				return nil
			}
			now := time.Now()
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "ID\tPIPELINE\tSTATUS\tSTARTED\tDURATION\tBY")
			for _, e := range list {
				dur := "-"
				if e.StartTime != nil {
					dur = formatDuration(span(e.StartTime, e.EndTime, now))
				}
				fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%s\t%s\t%s\n", e.ID, e.Application, e.PipelineName, e.Status,
					formatTime(e.BuildTime), dur, e.User)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Application, "application", "", "only this application's executions")
	f.StringVar(&opts.Pipeline, "pipeline", "", "only executions of pipelines with this name")
	f.StringVar(&statuses, "status", "", "only these statuses, comma-separated (e.g. RUNNING,PAUSED)")
	f.IntVar(&opts.Limit, "limit", 20, "how many to list (per page with --all)")
	f.BoolVar(&all, "all", false, "list every page")
	out = addOutputFlag(cmd, "ids")
	return cmd
}
