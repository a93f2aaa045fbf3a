package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) newPipelineDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete APP/NAME",
		Short: "Delete a pipeline (its revisions and executions are kept)",
		Long: `Delete a pipeline. Its revisions and executions are kept, and applying it
again revives it with the next revision number.`,
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
			if err := c.DeletePipeline(cmd.Context(), app, name); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "pipeline %s/%s deleted\n", app, name)
			return nil
		},
	}
}
