package node

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-cd/sluice/internal/stage/lambda"
	"github.com/sluice-cd/sluice/internal/store"
)

// canaryConfigs gives the analysis stages the canary configs saved in the
// store.
type canaryConfigs struct{ st store.Store }

// CanaryConfig implements lambda.CanaryConfigs: ref is a config's name or
// its ID.
func (c canaryConfigs) CanaryConfig(ctx context.Context, ref string) (lambda.SavedCanaryConfig, error) {
	saved, err := c.st.CanaryConfigGet(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		list, lerr := c.st.CanaryConfigList(ctx)
		if lerr != nil {
			return lambda.SavedCanaryConfig{}, lerr
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
				return lambda.SavedCanaryConfig{}, fmt.Errorf("no canary config is named %q, and none is saved: save one with sluice canary-config apply FILE", ref)
			}
			return lambda.SavedCanaryConfig{}, fmt.Errorf("no canary config is named %q (or has that ID); the saved ones are %s", ref, strings.Join(names, ", "))
		}
	}
	if err != nil {
		return lambda.SavedCanaryConfig{}, fmt.Errorf("read canary config %q: %w", ref, err)
	}
	return lambda.SavedCanaryConfig{ID: saved.ID, Name: saved.Name, Revision: saved.Revision, Document: saved.Document}, nil
}
