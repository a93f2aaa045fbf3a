// Package savedconfigs gives the analysis stages the canary configs saved
// in the store, as a canary.Store; package canary itself does not touch
// the store.
package savedconfigs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/store"
)

// Of gives the canary configs saved in st.
func Of(st store.Querier) canary.Store { return configs{st} }

type configs struct{ st store.Querier }

// CanaryConfig implements canary.Store: ref is a config's name or its ID.
func (c configs) CanaryConfig(ctx context.Context, ref string) (canary.Saved, error) {
	saved, err := c.st.CanaryConfigGet(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		list, lerr := c.st.CanaryConfigList(ctx)
		if lerr != nil {
			return canary.Saved{}, lerr
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
				return canary.Saved{}, fmt.Errorf("no canary config is named %q, and none is saved: save one with sluice canary-config apply FILE", ref)
			}
			return canary.Saved{}, fmt.Errorf("no canary config is named %q (or has that ID); the saved ones are %s", ref, strings.Join(names, ", "))
		}
	}
	if err != nil {
		return canary.Saved{}, fmt.Errorf("read canary config %q: %w", ref, err)
	}
	return canary.Saved{ID: saved.ID, Name: saved.Name, Revision: saved.Revision, Document: saved.Document}, nil
}
