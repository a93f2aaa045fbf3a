package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) newPipelineListCmd() *cobra.Command {
	var (
		application string
		out         *outputFormat
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List saved pipelines",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ps, err := c.ListPipelines(cmd.Context(), application)
			if err != nil {
				return err
			}
			if done, err := out.print(a.stdout, ps); done {
				return err
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
	out = addOutputFlag(cmd)
	return cmd
}
