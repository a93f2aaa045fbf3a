package apitype

// ImportReport is the body of POST /api/v1/pipelines/import: the migration
// checklist of the pipelines of one export, and which of them were saved.
type ImportReport struct {
	// DryRun says nothing was saved: the request asked only for the report.
	DryRun    bool               `json:"dryRun"`
	Pipelines []ImportedPipeline `json:"pipelines"`
}

// Verdicts of an ImportedPipeline and an ImportedStage.
const (
	// VerdictRuns: runs as it does in Spinnaker.
	VerdictRuns = "runs"
	// VerdictDiffers: runs, but something in it has another effect than
	// in Spinnaker, or is not acted on; Differs says what.
	VerdictDiffers = "differs"
	// VerdictWontRun: cannot be saved, so will not run; WontRun says why
	// and what to do.
	VerdictWontRun = "wontRun"
)

// ImportedPipeline is the report of one pipeline of an export.
type ImportedPipeline struct {
	// Index is the pipeline's place in the export (0 for a lone object).
	Index       int    `json:"index"`
	Application string `json:"application"`
	Name        string `json:"name"`
	// Verdict is the worst of the pipeline's own findings and its stages':
	// runs, differs or wontRun.
	Verdict string `json:"verdict"`
	// Saved says the pipeline was saved, as Revision; a pipeline that will
	// not run is never saved, nor is any pipeline of a dry run.
	Saved    bool `json:"saved"`
	Revision int  `json:"revision,omitempty"`
	// Differs and WontRun are the findings outside any stage: top-level
	// keys, parameters, triggers, notifications.
	Differs []ImportFinding `json:"differs,omitempty"`
	WontRun []ImportFinding `json:"wontRun,omitempty"`
	Stages  []ImportedStage `json:"stages"`
}

// ImportedStage is the report of one stage.
type ImportedStage struct {
	RefID   string          `json:"refId"`
	Name    string          `json:"name"`
	Type    string          `json:"type"`
	Verdict string          `json:"verdict"`
	Differs []ImportFinding `json:"differs,omitempty"`
	WontRun []ImportFinding `json:"wontRun,omitempty"`
}

// ImportFinding is one thing of a report, at its JSON path in the
// pipeline's document. Kind sorts what differs: "unknown" (a key Sluice
// does not know, kept and not read; the message names the nearest known
// one), "ignored" (a Spinnaker key or trigger Sluice keeps without acting
// on), "differs" (a key Sluice acts on with another effect than
// Spinnaker's, where Spinnaker's is a reported bug). A finding that will
// not run has no kind.
type ImportFinding struct {
	Path    string `json:"path"`
	Message string `json:"message"`
	Kind    string `json:"kind,omitempty"`
}
