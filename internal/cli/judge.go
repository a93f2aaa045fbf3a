package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/apitype"
)

func (a *app) newJudgeCmd() *cobra.Command {
	var input string
	cmd := &cobra.Command{
		Use:   "judge EXECUTION STAGE continue|stop",
		Short: "Judge a manual judgment stage that is waiting",
		Long: `Judge a manualJudgment stage that is waiting: continue lets the pipeline go on,
stop fails the stage. STAGE is the stage's id, refId or (when no other stage has
it) name. --input picks one of the stage's judgmentInputs.`,
		Example: `  sluice judge 5d1c… approve continue --input "ship it"`,
		Args:    exactArgs("EXECUTION", "STAGE", "continue|stop"),
		RunE: func(cmd *cobra.Command, args []string) error {
			decision := args[2]
			if decision != apitype.JudgmentContinue && decision != apitype.JudgmentStop {
				return usageError(fmt.Sprintf("judgment %q is not continue or stop", decision), "usage: "+cmd.UseLine())
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			e, err := c.Judge(cmd.Context(), args[0], args[1], apitype.JudgmentRequest{Status: decision, Input: input})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "stage %s of execution %s judged %s\n", args[1], e.ID, decision)
			return nil
		},
	}
	cmd.Flags().StringVar(&input, "input", "", "the judgment input, one of the stage's judgmentInputs")
	return cmd
}
