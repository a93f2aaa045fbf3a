package cli

import (
	"cmp"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/pipeline"
)

func (a *app) newPipelineApplyCmd() *cobra.Command {
	var appFlag, nameFlag string
	cmd := &cobra.Command{
		Use:   "apply FILE|-",
		Short: "Save a pipeline document on the server as a new revision",
		Long: `Save a pipeline document (JSON or YAML; - reads stdin) on the server as a new
revision of the pipeline its application and name say. The server validates it
first and reports every problem with its path. Its warnings (unknown keys, Spinnaker
keys Sluice keeps without acting on, triggers) are printed on stderr; they do not
stop the save.`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			data, contentType, err := a.readDocument(file)
			if err != nil {
				return err
			}
			p, err := pipeline.Parse(data)
			if err != nil {
				return a.printProblems(file, err)
			}
			app, name := cmp.Or(appFlag, p.Application), cmp.Or(nameFlag, p.Name)
			if app == "" || name == "" {
				return usageError(fmt.Sprintf("%s does not say which application and name the pipeline has", file),
					"add \"application\" and \"name\" to the document, or pass --application and --name")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			saved, err := c.PutPipeline(cmd.Context(), app, name, data, contentType)
			if err != nil {
				return err
			}
			a.printWarnings(saved.Warnings)
			fmt.Fprintf(a.stdout, "pipeline %s/%s saved as revision %d\n", saved.Application, saved.Name, saved.Revision)
			return nil
		},
	}
	cmd.Flags().StringVar(&appFlag, "application", "", "application, when the document has none")
	cmd.Flags().StringVar(&nameFlag, "name", "", "pipeline name, when the document has none")
	return cmd
}
