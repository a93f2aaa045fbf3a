package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) newExecutionRestartStageCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "restart-stage EXECUTION STAGE",
		Short: "Restart a completed stage and everything downstream of it",
		Long: `Restart a completed stage and everything downstream of it. STAGE is the
stage's id, refId or (when no other stage has it) name.`,
		Args: exactArgs("EXECUTION", "STAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			e, err := c.RestartStage(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "stage %s of execution %s restarted (execution %s)\n", args[1], e.ID, e.Status)
			return nil
		},
	}
}
