package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/node"
	"github.com/sluice-cd/sluice/internal/pipeline"
)

func (a *app) newPipelineValidateCmd() *cobra.Command {
	var strict bool
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a pipeline document without a server",
		Long: `Check a pipeline document (JSON or YAML; - reads stdin) with the same rules
the server applies when it is saved. No server is needed, so the server's accounts
are not known: a Lambda stage's unknown account or region is found when the
document is applied.

Every problem is printed as "path: message" and the exit code is 1; a valid document
prints a one-line summary and exits 0.

Warnings go to stderr as "warning: path: message": keys Sluice does not know
(likely misspelled; the nearest known key is named), Spinnaker keys Sluice keeps
without acting on, and triggers Sluice does not run. They do not make the
document invalid unless --strict is given; then they exit 1 as problems do.`,
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
			warnings, err := p.Check(node.ValidateOptions())
			a.printPipelineWarnings(warnings)
			if err != nil {
				return a.printProblems(file, err)
			}
			if strict && len(warnings) > 0 {
				return &exitError{code: ExitFailed, err: fmt.Errorf("%s: %s (--strict)", file, countOf(len(warnings), "warning"))}
			}
			fmt.Fprintln(a.stdout, p.Summary())
			return nil
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "fail (exit 1) when the document has warnings")
	return cmd
}

// printPipelineWarnings prints a document's warnings to stderr, one
// "warning: path: message" per line.
func (a *app) printPipelineWarnings(warnings []pipeline.Problem) {
	details := make([]apitype.ErrorDetail, len(warnings))
	for i, w := range warnings {
		details[i] = apitype.ErrorDetail{Path: w.Path, Message: w.Msg}
	}
	a.printWarnings(details)
}

// countOf is "1 warning" or "n warnings".
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
