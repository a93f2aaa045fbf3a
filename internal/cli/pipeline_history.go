package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) newPipelineHistoryCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "history APP/NAME",
		Short: "List the revisions of a pipeline, newest first",
		Long: `List the revisions of a pipeline, newest first. Print one with
'sluice pipeline get APP/NAME --revision N'.`,
		Args: exactArgs("APP/NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			app, name, err := parsePipelineRef(args[0])
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			revs, err := c.ListRevisions(cmd.Context(), app, name)
			if err != nil {
				return err
			}
			if done, err := out.print(a.stdout, revs); done {
				return err
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "REVISION\tSAVED\tBY")
			for _, r := range revs {
				fmt.Fprintf(tw, "%d\t%s\t%s\n", r.Revision, formatTime(r.CreatedAt), r.CreatedBy)
			}
			return tw.Flush()
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}
