package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) newExecutionRollbackCmd() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "rollback EXECUTION",
		Short: "Undo what a finished execution's Route stages changed",
		Long: `Roll back a finished execution by hand: every stage that recorded how to undo its
change (Route stages record the alias routing they replaced) gets a rollback stage,
newest change first, run as new stages of the same execution. The same happens by
itself when an execution fails and rollbackOnFailure is set.`,
		Args: exactArgs("EXECUTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			e, err := c.Rollback(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "execution %s is rolling back\n", e.ID)
			if !follow {
				return nil
			}
			return a.follow(cmd.Context(), c, e.ID)
		},
	}
	cmd.Flags().BoolVar(&follow, "follow", false, "show the rollback's progress until it ends")
	return cmd
}
