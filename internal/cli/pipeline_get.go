package cli

import (
	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/apitype"
)

func (a *app) newPipelineGetCmd() *cobra.Command {
	var (
		revision int
		triggers bool
		out      *outputFormat
	)
	cmd := &cobra.Command{
		Use:   "get APP/NAME",
		Short: "Print a saved pipeline document",
		Long: `Print the newest revision of a saved pipeline document, or --revision N.
The output is the document itself, ready to edit and apply again.
With --triggers it is the pipeline's triggers instead, each with its last
firing: when, the execution it started, and what came of it.`,
		Args: exactArgs("APP/NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			app, name, err := parsePipelineRef(args[0])
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var p *apitype.Pipeline
			if revision > 0 {
				p, err = c.GetRevision(cmd.Context(), app, name, revision)
			} else {
				p, err = c.GetPipeline(cmd.Context(), app, name)
			}
			if err != nil {
				return err
			}
			if triggers {
				if revision > 0 {
					return usageError("--triggers shows the triggers in force, not those of a revision", "leave out --revision")
				}
				return a.printTriggers(p)
			}
			if out.value == formatYAML {
				return printYAML(a.stdout, p.Document)
			}
			return printJSON(a.stdout, p.Document)
		},
	}
	cmd.Flags().IntVar(&revision, "revision", 0, "print this revision instead of the newest")
	cmd.Flags().BoolVar(&triggers, "triggers", false, "print the triggers and their last firing instead of the document")
	out = addDocumentOutputFlag(cmd)
	return cmd
}
