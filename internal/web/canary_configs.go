package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/canary"
)

// canaryConfigsView is the Canary configs page: the configs the viewer
// may read.
type canaryConfigsView struct {
	Configs []apitype.CanaryConfig
}

func (c *Console) canaryConfigs(r *http.Request) (*page, error) {
	cs, err := c.api.ListCanaryConfigs(r.Context())
	if err != nil {
		return nil, err
	}
	return &page{Name: "canary-configs", Title: "Canary configs", Nav: "canary-configs", Data: &canaryConfigsView{Configs: cs}}, nil
}

// canaryConfigView is the page of one canary config: its newest
// document, its revisions, and the changes between two of them as
// canary.DiffConfigs sees them (by field, metrics matched by name), which
// says more than a line diff of two JSON texts.
type canaryConfigView struct {
	Latest    *apitype.CanaryConfig
	Document  string
	Revisions []apitype.CanaryConfigRevision
	From, To  int
	Compared  bool
	Changes   []string
}

func (c *Console) canaryConfig(r *http.Request) (*page, error) {
	ctx := r.Context()
	name := r.PathValue("name")
	cfg, err := c.api.GetCanaryConfig(ctx, name)
	if err != nil {
		return nil, err
	}
	v := &canaryConfigView{Latest: cfg, Document: prettyJSON(cfg.Document) + "\n"}
	if v.Revisions, err = c.api.ListCanaryConfigRevisions(ctx, name); err != nil {
		return nil, err
	}
	// By default the form offers the newest revision against the one
	// before.
	v.To, v.From = cfg.Revision, cfg.Revision
	if len(v.Revisions) > 1 {
		v.From = v.Revisions[1].Revision
	}
	q := r.URL.Query()
	if q.Get("from") != "" || q.Get("to") != "" {
		for _, f := range []struct {
			key string
			dst *int
		}{{"from", &v.From}, {"to", &v.To}} {
			s := q.Get(f.key)
			if s == "" {
				continue
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return nil, &pageError{Status: http.StatusBadRequest, Message: fmt.Sprintf("Revision %q is not a revision number.", s)}
			}
			*f.dst = n
		}
		from, err := c.api.GetCanaryConfigRevision(ctx, name, v.From)
		if err != nil {
			return nil, err
		}
		to, err := c.api.GetCanaryConfigRevision(ctx, name, v.To)
		if err != nil {
			return nil, err
		}
		changes, err := canary.DiffConfigs(from.Document, to.Document)
		if err != nil {
			return nil, fmt.Errorf("diff canary config %s revisions %d and %d: %w", name, v.From, v.To, err)
		}
		v.Compared = true
		for _, ch := range changes {
			v.Changes = append(v.Changes, ch.String())
		}
	}
	return &page{Name: "canary-config", Title: name, Nav: "canary-configs", Data: v}, nil
}
