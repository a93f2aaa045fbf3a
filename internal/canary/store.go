package canary

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-cd/sluice/internal/store"
)

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

// StoreOf gives the canary configs saved in st.
func StoreOf(st store.Querier) Store { return savedConfigs{st} }

type savedConfigs struct{ st store.Querier }

// CanaryConfig implements Store.
func (c savedConfigs) CanaryConfig(ctx context.Context, ref string) (Saved, error) {
	saved, err := c.st.CanaryConfigGet(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		list, lerr := c.st.CanaryConfigList(ctx)
		if lerr != nil {
			return Saved{}, lerr
		}
		names := make([]string, 0, len(list))
		for _, cc := range list {
			if cc.ID == ref {
				saved, err = cc, nil
				break
			}
			names = append(names, cc.Name)
		}
		if err != nil {
			if len(names) == 0 {
				return Saved{}, fmt.Errorf("no canary config is named %q, and none is saved: save one with sluice canary-config apply FILE", ref)
			}
			return Saved{}, fmt.Errorf("no canary config is named %q (or has that ID); the saved ones are %s", ref, strings.Join(names, ", "))
		}
	}
	if err != nil {
		return Saved{}, fmt.Errorf("read canary config %q: %w", ref, err)
	}
	return Saved{ID: saved.ID, Name: saved.Name, Revision: saved.Revision, Document: saved.Document}, nil
}
