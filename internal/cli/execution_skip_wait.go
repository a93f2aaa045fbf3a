package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) newExecutionSkipWaitCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "skip-wait EXECUTION STAGE",
		Short: "Skip the rest of a running wait stage, or the execution window a stage waits for",
		Long: `Skip the rest of a running wait stage's wait, or, when a stage is waiting for
its deployment window (restrictExecutionDuringTimeWindow), skip the window: the
stage runs now (Spinnaker's "skip execution window"). A wait stage still in its
window has its window skipped; skipping again skips its wait.`,
		Args: exactArgs("EXECUTION", "STAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			e, err := c.SkipWait(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "wait of stage %s skipped (execution %s %s)\n", args[1], e.ID, e.Status)
			return nil
		},
	}
}
