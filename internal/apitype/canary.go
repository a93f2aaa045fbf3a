package apitype

import "encoding/json"

// CanaryConfig is one revision of a saved canary config (Kayenta's
// CanaryConfig JSON), as GET and PUT /api/v1/canary-configs/{name} and
// its revisions return it.
type CanaryConfig struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Revision int    `json:"revision"`
	// Applications are the applications the document names; they decide
	// who may read and change the config.
	Applications []string `json:"applications"`
	// UpdatedAt is when this revision was saved (epoch ms).
	UpdatedAt int64  `json:"updatedAt"`
	UpdatedBy string `json:"updatedBy"`
	// Warnings are the fields Sluice keeps but does not act on, by JSON
	// path; set by PUT only.
	Warnings []ErrorDetail `json:"warnings,omitempty"`
	// Document is the config as it was saved. It is absent in lists.
	Document json.RawMessage `json:"document,omitempty"`
}

// CanaryConfigList is the body of GET /api/v1/canary-configs.
type CanaryConfigList struct {
	CanaryConfigs []CanaryConfig `json:"canaryConfigs"`
}

// CanaryConfigRevision describes one saved revision, without its document.
type CanaryConfigRevision struct {
	Name         string   `json:"name"`
	Revision     int      `json:"revision"`
	Applications []string `json:"applications"`
	CreatedAt    int64    `json:"createdAt"`
	CreatedBy    string   `json:"createdBy"`
}

// CanaryConfigRevisionList is the body of GET …/revisions, newest first.
type CanaryConfigRevisionList struct {
	Revisions []CanaryConfigRevision `json:"revisions"`
}

// CanaryConfigValidateResult is the body of a successful POST
// /api/v1/canary-configs/validate. An invalid config gets a 400 Error
// whose details list the problems.
type CanaryConfigValidateResult struct {
	Valid        bool          `json:"valid"`
	Name         string        `json:"name"`
	Applications []string      `json:"applications"`
	Warnings     []ErrorDetail `json:"warnings"`
}
