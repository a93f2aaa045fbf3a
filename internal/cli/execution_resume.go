package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) newExecutionResumeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "resume EXECUTION",
		Short: "Resume a paused execution",
		Args:  exactArgs("EXECUTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			e, err := c.Resume(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "execution %s resumed (status %s)\n", e.ID, e.Status)
			return nil
		},
	}
}
