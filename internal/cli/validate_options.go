package cli

import "github.com/sluice-cd/sluice/internal/pipeline"

// validateOptions returns the options the server validates pipeline
// documents with, so that `sluice pipeline validate` finds exactly what the
// server would.
//
// STUB, to be replaced by the lead: the real version adapts the stage
// registry (stage types and their field checks) and the expression checker.
func validateOptions() pipeline.ValidateOptions {
	return pipeline.ValidateOptions{}
}
