package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) newExecutionPauseCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "pause EXECUTION",
		Short: "Pause a running execution",
		Long:  "Pause a running execution: no new task starts until it is resumed, and stage timeouts stop counting.",
		Args:  exactArgs("EXECUTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			e, err := c.Pause(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "execution %s paused (status %s)\n", e.ID, e.Status)
			return nil
		},
	}
}
