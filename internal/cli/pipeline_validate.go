package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/node"
	"github.com/sluice-cd/sluice/internal/pipeline"
)

func (a *app) newPipelineValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a pipeline document without a server",
		Long: `Check a pipeline document (JSON or YAML; - reads stdin) with the same rules
the server applies when it is saved. No server is needed.

Every problem is printed as "path: message" and the exit code is 1; a valid document
prints a one-line summary and exits 0.`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			data, _, err := a.readDocument(file)
			if err != nil {
				return err
			}
			p, err := pipeline.Parse(data)
			if err != nil {
				return a.printProblems(file, err)
			}
			if err := p.Validate(node.ValidateOptions()); err != nil {
				return a.printProblems(file, err)
			}
			fmt.Fprintln(a.stdout, p.Summary())
			return nil
		},
	}
}
