package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) newPipelineHistoryCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "history APP/NAME",
		Short: "List the revisions of a pipeline, newest first",
		Long: `List the revisions of a pipeline, newest first. Print one with
'sluice pipeline get APP/NAME --revision N'.`,
		Args: exactArgs("APP/NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatTable, formatJSON); err != nil {
				return err
			}
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
			if format == formatJSON {
				return printJSON(a.stdout, revs)
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "REVISION\tSAVED\tBY")
			for _, r := range revs {
				fmt.Fprintf(tw, "%d\t%s\t%s\n", r.Revision, formatTime(r.CreatedAt), r.CreatedBy)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", formatTable, "output format: table or json")
	return cmd
}
