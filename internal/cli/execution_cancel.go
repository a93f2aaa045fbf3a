package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) newExecutionCancelCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "cancel EXECUTION",
		Short: "Cancel an execution",
		Args:  exactArgs("EXECUTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			e, err := c.Cancel(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "execution %s canceled (status %s)\n", e.ID, e.Status)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded with the cancellation")
	return cmd
}
