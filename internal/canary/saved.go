package canary

import "context"

// Saved is one saved revision of a canary config.
type Saved struct {
	ID, Name string
	Revision int
	Document []byte
}

// Store finds saved canary configs for the analysis stages.
type Store interface {
	// CanaryConfig returns the newest revision of the config whose name,
	// or whose ID, is ref. A ref that names none is an error that lists
	// the configs there are.
	CanaryConfig(ctx context.Context, ref string) (Saved, error)
}
