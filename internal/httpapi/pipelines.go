package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/store"
)

// parseDocument parses and validates a pipeline document and returns its
// warnings. When app and name are not empty (a PUT), the document's
// application and name must equal them or be absent, in which case they
// are filled in. Every problem — the mismatch and the validator's — is
// reported in one error.
func parseDocument(data []byte, app, name string, opts pipeline.ValidateOptions) (*pipeline.Pipeline, []apitype.ErrorDetail, error) {
	p, err := pipeline.Parse(data)
	if err != nil {
		var ve *pipeline.ValidationError
		if errors.As(err, &ve) {
			return nil, nil, err
		}
		return nil, nil, &Error{
			Status:  http.StatusBadRequest,
			Code:    apitype.CodeInvalidPipeline,
			Message: "the pipeline document cannot be read: " + err.Error(),
			Err:     err,
		}
	}
	var problems []pipeline.Problem
	check := func(field, got, want string) {
		switch {
		case want == "":
		case got == "":
			if _, kept := p.Extra[field]; !kept { // absent, not mistyped
				if field == "application" {
					p.Application = want
				} else {
					p.Name = want
				}
			}
		case got != want:
			problems = append(problems, pipeline.Problem{
				Path: field,
				Msg:  fmt.Sprintf("the document says %q but the URL says %q; make them equal or leave %s out of the document", got, want, field),
			})
		}
	}
	check("application", p.Application, app)
	check("name", p.Name, name)
	warnings, err := p.Check(opts)
	if err != nil {
		var ve *pipeline.ValidationError
		if !errors.As(err, &ve) {
			return nil, nil, fmt.Errorf("validate pipeline: %w", err)
		}
		problems = append(problems, ve.Problems...)
	}
	if len(problems) > 0 {
		return nil, nil, &pipeline.ValidationError{Problems: problems}
	}
	return p, validationDetails(&pipeline.ValidationError{Problems: warnings}), nil
}

// putPipeline saves a new revision of a pipeline.
func (s *server) putPipeline(w http.ResponseWriter, r *http.Request) error {
	app, name := r.PathValue("app"), r.PathValue("name")
	if err := s.allow(r, app); err != nil {
		return err
	}
	if err := requireDocument(r); err != nil {
		return err
	}
	data, err := readBody(w, r, s.maxDocument)
	if err != nil {
		return err
	}
	p, warnings, err := parseDocument(data, app, name, s.validate)
	if err != nil {
		return err
	}
	saved, err := s.savePipeline(r, app, name, p, data)
	if err != nil {
		return err
	}
	out := toPipeline(saved, true)
	if len(warnings) > 0 {
		out.Warnings = warnings
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// savePipeline saves p, parsed from written, as a new revision of
// app/name, keeping written's key order, and records it in the audit log.
// p keeps the pipeline's id, or gets a new one when app/name is new.
func (s *server) savePipeline(r *http.Request, app, name string, p *pipeline.Pipeline, written []byte) (*store.Pipeline, error) {
	var saved *store.Pipeline
	err := s.store.InTx(r.Context(), func(tx store.Tx) error {
		current, err := tx.PipelineGet(r.Context(), app, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if p.ID == "" {
				p.ID = uuid.NewString()
			}
		case err != nil:
			return fmt.Errorf("get pipeline %s/%s: %w", app, name, err)
		case p.ID == "":
			p.ID = current.ID
		case p.ID != current.ID:
			return &pipeline.ValidationError{Problems: []pipeline.Problem{{
				Path: "id",
				Msg:  fmt.Sprintf("pipeline %s/%s has id %q, not %q; remove id from the document or set it to %q", app, name, current.ID, p.ID, current.ID),
			}}}
		}
		doc, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode pipeline: %w", err)
		}
		// The revision keeps the author's key order, so that the
		// document reads, and diffs, as it was written.
		if doc, err = pipeline.KeepKeyOrder(doc, written); err != nil {
			return fmt.Errorf("encode pipeline: %w", err)
		}
		saved, err = tx.PipelineSave(r.Context(), &store.PipelineSaveParams{
			ID:          p.ID,
			Application: app,
			Name:        name,
			Document:    doc,
			User:        s.who(r).Name,
		})
		if errors.Is(err, store.ErrConflict) {
			return &Error{
				Status:  http.StatusConflict,
				Code:    apitype.CodeConflict,
				Message: fmt.Sprintf("pipeline id %q belongs to another pipeline; remove id from the document to get a new one", p.ID),
				Err:     err,
			}
		}
		if err != nil {
			return err
		}
		if err := s.indexTriggers(r, tx, saved.ID, saved); err != nil {
			return err
		}
		return tx.AuditInsert(r.Context(), s.auditEntry(r, "pipeline.save", app, name, map[string]any{"revision": saved.Revision}))
	})
	if err != nil {
		return nil, err
	}
	return saved, nil
}

func (s *server) getPipeline(w http.ResponseWriter, r *http.Request) error {
	app, name := r.PathValue("app"), r.PathValue("name")
	if err := s.allow(r, app); err != nil {
		return err
	}
	p, err := s.store.PipelineGet(r.Context(), app, name)
	if err != nil {
		return orNotFound(err, "pipeline %s/%s not found", app, name)
	}
	out := toPipeline(p, true)
	if out.Triggers, err = s.triggerStatuses(r, p); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) listPipelines(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.store.PipelineList(r.Context(), &store.PipelineListParams{Application: r.URL.Query().Get("application")})
	if err != nil {
		return err
	}
	out := apitype.PipelineList{Pipelines: make([]apitype.Pipeline, 0, len(ps))}
	for _, p := range ps {
		if s.canRead(r, p.Application) {
			out.Pipelines = append(out.Pipelines, toPipeline(p, false))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) deletePipeline(w http.ResponseWriter, r *http.Request) error {
	app, name := r.PathValue("app"), r.PathValue("name")
	if err := s.allow(r, app); err != nil {
		return err
	}
	err := s.store.InTx(r.Context(), func(tx store.Tx) error {
		current, err := tx.PipelineGet(r.Context(), app, name)
		if err != nil {
			return err
		}
		if err := tx.PipelineDelete(r.Context(), app, name); err != nil {
			return err
		}
		if err := s.indexTriggers(r, tx, current.ID, nil); err != nil {
			return err
		}
		return tx.AuditInsert(r.Context(), s.auditEntry(r, "pipeline.delete", app, name, nil))
	})
	if err != nil {
		return orNotFound(err, "pipeline %s/%s not found", app, name)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) listRevisions(w http.ResponseWriter, r *http.Request) error {
	app, name := r.PathValue("app"), r.PathValue("name")
	if err := s.allow(r, app); err != nil {
		return err
	}
	p, err := s.store.PipelineGet(r.Context(), app, name)
	if err != nil {
		return orNotFound(err, "pipeline %s/%s not found", app, name)
	}
	revs, err := s.store.PipelineRevisionList(r.Context(), p.ID)
	if err != nil {
		return err
	}
	out := apitype.PipelineRevisionList{Revisions: make([]apitype.PipelineRevision, 0, len(revs))}
	for _, rev := range revs {
		out.Revisions = append(out.Revisions, toRevision(rev))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) getRevision(w http.ResponseWriter, r *http.Request) error {
	app, name := r.PathValue("app"), r.PathValue("name")
	if err := s.allow(r, app); err != nil {
		return err
	}
	rev, err := strconv.Atoi(r.PathValue("rev"))
	if err != nil || rev < 1 {
		return badRequest("revision %q is not a revision number; revisions are 1, 2, 3, …", r.PathValue("rev"))
	}
	p, err := s.store.PipelineGet(r.Context(), app, name)
	if err != nil {
		return orNotFound(err, "pipeline %s/%s not found", app, name)
	}
	got, err := s.store.PipelineRevisionGet(r.Context(), p.ID, rev)
	if err != nil {
		return orNotFound(err, "pipeline %s/%s has no revision %d; the newest is %d", app, name, rev, p.Revision)
	}
	writeJSON(w, http.StatusOK, toPipeline(got, true))
	return nil
}

// validatePipeline checks a document without saving it.
func (s *server) validatePipeline(w http.ResponseWriter, r *http.Request) error {
	if err := requireDocument(r); err != nil {
		return err
	}
	data, err := readBody(w, r, s.maxDocument)
	if err != nil {
		return err
	}
	p, warnings, err := parseDocument(data, "", "", s.validate)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.ValidateResult{Valid: true, Summary: p.Summary(), Warnings: warnings})
	return nil
}
