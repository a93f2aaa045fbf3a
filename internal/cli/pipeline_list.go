package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) newPipelineListCmd() *cobra.Command {
	var application, format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List saved pipelines",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatTable, formatJSON); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ps, err := c.ListPipelines(cmd.Context(), application)
			if err != nil {
				return err
			}
			if format == formatJSON {
				return printJSON(a.stdout, ps)
			}
			if len(ps) == 0 {
				fmt.Fprintln(a.stderr, "no pipelines")
				return nil
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "PIPELINE\tREVISION\tUPDATED\tBY")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s/%s\t%d\t%s\t%s\n", p.Application, p.Name, p.Revision, formatTime(p.UpdatedAt), p.UpdatedBy)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&application, "application", "", "list only this application's pipelines")
	cmd.Flags().StringVarP(&format, "output", "o", formatTable, "output format: table or json")
	return cmd
}
