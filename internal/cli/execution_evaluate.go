package cli

import (
	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/apitype"
)

func (a *app) newExecutionEvaluateCmd() *cobra.Command {
	var stage string
	cmd := &cobra.Command{
		Use:   "evaluate EXECUTION EXPRESSION",
		Short: "Evaluate an expression against an execution",
		Long: `Evaluate an expression against an execution, as a stage would see it, and print
the value as JSON. EXPRESSION is "${…}" or a bare expression.`,
		Example: `  sluice execution evaluate 5d1c… 'trigger.parameters.env'
  sluice execution evaluate 5d1c… '${#stage("Deploy").outputs.version}' --stage 3`,
		Args: exactArgs("EXECUTION", "EXPRESSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			v, err := c.Evaluate(cmd.Context(), args[0], apitype.EvaluateRequest{Expression: args[1], Stage: stage})
			if err != nil {
				return err
			}
			return printJSON(a.stdout, v)
		},
	}
	cmd.Flags().StringVar(&stage, "stage", "", "evaluate as this stage (id, refId or name) sees it")
	return cmd
}
