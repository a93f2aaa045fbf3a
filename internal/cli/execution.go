package cli

import (
	"github.com/spf13/cobra"
)

func (a *app) newExecutionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "execution",
		Aliases: []string{"executions", "exec"},
		Short:   "Inspect and control executions",
		Args:    cobra.ArbitraryArgs,
		RunE:    groupRunE,
	}
	cmd.AddCommand(
		a.newExecutionListCmd(),
		a.newExecutionGetCmd(),
		a.newExecutionCancelCmd(),
		a.newExecutionRollbackCmd(),
		a.newExecutionPauseCmd(),
		a.newExecutionResumeCmd(),
		a.newExecutionRestartStageCmd(),
		a.newExecutionSkipWaitCmd(),
		a.newExecutionEvaluateCmd(),
	)
	return cmd
}
