package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/pipeline"
)

func (a *app) newPipelineCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Validate, save and inspect pipeline documents",
		Long: `Validate, save and inspect pipeline documents.

A pipeline document is Spinnaker's pipeline JSON (application, name, stages[] with
refId, requisiteStageRefIds and type, parameterConfig[], …) or the same structure in YAML.
Pipelines are named APP/NAME.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	cmd.AddCommand(
		a.newPipelineValidateCmd(),
		a.newPipelineApplyCmd(),
		a.newPipelineImportCmd(),
		a.newPipelineGetCmd(),
		a.newPipelineListCmd(),
		a.newPipelineDeleteCmd(),
		a.newPipelineHistoryCmd(),
		a.newPipelineTriggerCmd(),
		a.newPipelinePlanCmd(),
	)
	return cmd
}

// readDocument reads a pipeline document from a file, or stdin for "-",
// and says what Content-Type it has.
func (a *app) readDocument(name string) (data []byte, contentType string, err error) {
	if name == "-" {
		data, err = io.ReadAll(a.stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", &exitError{code: ExitFailed, err: fmt.Errorf("%s: no such file", name)}
		}
		return nil, "", fmt.Errorf("read %s: %w", name, err)
	}
	return data, documentType(name, data), nil
}

// documentType is application/json or application/yaml, by the file's
// extension or else by the first byte.
func documentType(name string, data []byte) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return "application/json"
	case ".yaml", ".yml":
		return "application/yaml"
	}
	return apiclient.DocumentType(data)
}

// printProblems prints a document's problems, one "path: message" per
// line, when err is a validation error, and returns the error to exit with.
func (a *app) printProblems(file string, err error) error {
	var ve *pipeline.ValidationError
	if !errors.As(err, &ve) {
		return &exitError{code: ExitFailed, err: fmt.Errorf("%s: %w", file, err)}
	}
	for _, p := range ve.Problems {
		fmt.Fprintln(a.stdout, p.String())
	}
	n := len(ve.Problems)
	noun := "problems"
	if n == 1 {
		noun = "problem"
	}
	return &exitError{code: ExitFailed, err: fmt.Errorf("%s: %d %s", file, n, noun)}
}
