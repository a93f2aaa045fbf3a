package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/store"
)

// Canary configs are Kayenta's CanaryConfig documents, stored and
// versioned like pipelines but named on their own (Kayenta's configs
// belong to no one application). Who may see and change one is decided by
// the applications its document names: reading needs read on one of them,
// saving and deleting needs write on all of them, and on all those the
// current revision names, so that nobody takes over another team's config
// by renaming its applications. A config naming no application is
// readable by anyone authenticated and changed by admins only.

// parseCanaryConfig parses and validates a canary config for saving (not
// for running: a config for Atlas or Graphite may be stored). When name
// is not empty (a PUT) the document's name must equal it. Every problem is
// reported at once, as a 400 with JSON paths.
func parseCanaryConfig(data []byte, name string) (*canary.Config, error) {
	c, err := canary.ParseConfig(data)
	if err != nil {
		return nil, &Error{
			Status:  http.StatusBadRequest,
			Code:    apitype.CodeInvalidCanaryConfig,
			Message: "the canary config cannot be read: " + err.Error(),
			Err:     err,
		}
	}
	var problems []pipeline.Problem
	if name != "" && c.Name != "" && c.Name != name {
		problems = append(problems, pipeline.Problem{
			Path: "name",
			Msg:  fmt.Sprintf("the document says %q but the URL says %q; make them equal", c.Name, name),
		})
	}
	if err := c.Validate(canary.ConfigValidateOptions{}); err != nil {
		var ve *pipeline.ValidationError
		if !errors.As(err, &ve) {
			return nil, fmt.Errorf("validate canary config: %w", err)
		}
		problems = append(problems, ve.Problems...)
	}
	if len(problems) > 0 {
		ve := &pipeline.ValidationError{Problems: problems}
		return nil, &Error{
			Status:  http.StatusBadRequest,
			Code:    apitype.CodeInvalidCanaryConfig,
			Message: problemsMessage("the canary config is invalid", len(problems)),
			Details: validationDetails(ve),
			Err:     ve,
		}
	}
	return c, nil
}

// allowCanaryRead checks that the request's principal may read a config
// naming apps: read on one of them, or any principal when there are none.
func (s *server) allowCanaryRead(r *http.Request, apps []string) error {
	if len(apps) == 0 || slices.ContainsFunc(apps, func(app string) bool { return s.canRead(r, app) }) {
		return nil
	}
	return s.allowPerm(r, apps[0], auth.Read)
}

// allowCanaryWrite checks that the request's principal may save or delete
// a config naming apps: write on each, or admin when there are none.
func (s *server) allowCanaryWrite(r *http.Request, name string, apps []string) error {
	if len(apps) == 0 {
		if err := s.policy.CheckAdmin(s.who(r), fmt.Sprintf("change canary config %q, which names no applications (name them in applications to let their writers change it)", name)); err != nil {
			return forbidden(err)
		}
		return nil
	}
	for _, app := range apps {
		if err := s.allowPerm(r, app, auth.Write); err != nil {
			return err
		}
	}
	return nil
}

// canaryAudit is one audit entry per application the config names (one
// without an application when it names none), so that each application's
// readers see the changes to configs that name it.
func (s *server) canaryAudit(r *http.Request, action string, c *store.CanaryConfig, apps []string) []*store.AuditEntry {
	details := map[string]any{"canaryConfig": c.Name, "applications": apps}
	if c.Revision > 0 {
		details["revision"] = c.Revision
	}
	if len(apps) == 0 {
		return []*store.AuditEntry{s.auditEntry(r, action, "", "", details)}
	}
	var out []*store.AuditEntry
	for _, app := range apps {
		out = append(out, s.auditEntry(r, action, app, "", details))
	}
	return out
}

func toCanaryConfig(c *store.CanaryConfig, withDocument bool) apitype.CanaryConfig {
	out := apitype.CanaryConfig{
		ID:           c.ID,
		Name:         c.Name,
		Revision:     c.Revision,
		Applications: c.Applications,
		UpdatedAt:    apitype.Millis(c.CreatedAt),
		UpdatedBy:    c.CreatedBy,
	}
	if withDocument {
		out.Document = c.Document
	}
	return out
}

func warningDetails(c *canary.Config) []apitype.ErrorDetail {
	return validationDetails(&pipeline.ValidationError{Problems: c.Warnings()})
}

// putCanaryConfig saves a new revision of a canary config, the document
// byte for byte.
func (s *server) putCanaryConfig(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := requireJSON(r); err != nil {
		return err
	}
	data, err := readBody(w, r, s.maxDocument)
	if err != nil {
		return err
	}
	c, err := parseCanaryConfig(data, name)
	if err != nil {
		return err
	}
	apps := slices.Compact(slices.Sorted(slices.Values(c.Applications)))
	var saved *store.CanaryConfig
	err = s.store.InTx(r.Context(), func(tx store.Tx) error {
		current, err := tx.CanaryConfigGet(r.Context(), name)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			if err := s.allowCanaryWrite(r, name, current.Applications); err != nil {
				return err
			}
		}
		if err := s.allowCanaryWrite(r, name, apps); err != nil {
			return err
		}
		saved, err = tx.CanaryConfigSave(r.Context(), &store.CanaryConfigSaveParams{
			Name: name, Applications: apps, Document: data, User: s.who(r).Name,
		})
		if err != nil {
			return err
		}
		for _, e := range s.canaryAudit(r, "canary-config.save", saved, apps) {
			if err := tx.AuditInsert(r.Context(), e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	out := toCanaryConfig(saved, true)
	out.Warnings = warningDetails(c)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) getCanaryConfig(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	c, err := s.store.CanaryConfigGet(r.Context(), name)
	if err != nil {
		return orNotFound(err, "canary config %q not found", name)
	}
	if err := s.allowCanaryRead(r, c.Applications); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toCanaryConfig(c, true))
	return nil
}

func (s *server) listCanaryConfigs(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.store.CanaryConfigList(r.Context())
	if err != nil {
		return err
	}
	out := apitype.CanaryConfigList{CanaryConfigs: make([]apitype.CanaryConfig, 0, len(cs))}
	for _, c := range cs {
		if s.allowCanaryRead(r, c.Applications) == nil {
			out.CanaryConfigs = append(out.CanaryConfigs, toCanaryConfig(c, false))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) deleteCanaryConfig(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	err := s.store.InTx(r.Context(), func(tx store.Tx) error {
		current, err := tx.CanaryConfigGet(r.Context(), name)
		if err != nil {
			return err
		}
		if err := s.allowCanaryWrite(r, name, current.Applications); err != nil {
			return err
		}
		if err := tx.CanaryConfigDelete(r.Context(), name); err != nil {
			return err
		}
		for _, e := range s.canaryAudit(r, "canary-config.delete", current, current.Applications) {
			if err := tx.AuditInsert(r.Context(), e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return orNotFound(err, "canary config %q not found", name)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) listCanaryConfigRevisions(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	current, err := s.store.CanaryConfigGet(r.Context(), name)
	if err != nil {
		return orNotFound(err, "canary config %q not found", name)
	}
	if err := s.allowCanaryRead(r, current.Applications); err != nil {
		return err
	}
	revs, err := s.store.CanaryConfigRevisionList(r.Context(), name)
	if err != nil {
		return orNotFound(err, "canary config %q not found", name)
	}
	out := apitype.CanaryConfigRevisionList{Revisions: make([]apitype.CanaryConfigRevision, 0, len(revs))}
	for _, c := range revs {
		out.Revisions = append(out.Revisions, apitype.CanaryConfigRevision{
			Name: c.Name, Revision: c.Revision, Applications: c.Applications,
			CreatedAt: apitype.Millis(c.CreatedAt), CreatedBy: c.CreatedBy,
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getCanaryConfigRevision returns one revision. Access follows the
// current revision, like the list of revisions: whoever may read the
// config may read its history.
func (s *server) getCanaryConfigRevision(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	rev, err := strconv.Atoi(r.PathValue("rev"))
	if err != nil || rev < 1 {
		return badRequest("revision %q is not a revision number; revisions are 1, 2, 3, …", r.PathValue("rev"))
	}
	current, err := s.store.CanaryConfigGet(r.Context(), name)
	if err != nil {
		return orNotFound(err, "canary config %q not found", name)
	}
	if err := s.allowCanaryRead(r, current.Applications); err != nil {
		return err
	}
	got, err := s.store.CanaryConfigRevisionGet(r.Context(), name, rev)
	if err != nil {
		return orNotFound(err, "canary config %q has no revision %d; the newest is %d", name, rev, current.Revision)
	}
	writeJSON(w, http.StatusOK, toCanaryConfig(got, true))
	return nil
}

// validateCanaryConfig checks a canary config without saving it.
func (s *server) validateCanaryConfig(w http.ResponseWriter, r *http.Request) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	data, err := readBody(w, r, s.maxDocument)
	if err != nil {
		return err
	}
	c, err := parseCanaryConfig(data, "")
	if err != nil {
		return err
	}
	apps := c.Applications
	if apps == nil {
		apps = []string{}
	}
	writeJSON(w, http.StatusOK, apitype.CanaryConfigValidateResult{Valid: true, Name: c.Name, Applications: apps, Warnings: warningDetails(c)})
	return nil
}
