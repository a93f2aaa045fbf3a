package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/pipeline"
)

// importPipelines reports, for each pipeline of an export (one document,
// a JSON array or a YAML list of them), what runs as in Spinnaker, what
// runs with a different effect and what will not run; and, unless
// dryRun=true, saves each pipeline that will run, as PUT does. Saving
// needs write on the application of every pipeline to save, checked
// before anything is saved; a dry run needs only authentication, as
// validate does.
func (s *server) importPipelines(w http.ResponseWriter, r *http.Request) error {
	dryRun := false
	if v := r.URL.Query().Get("dryRun"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest("dryRun must be true or false, not %q", v)
		}
		dryRun = b
	}
	if err := requireDocument(r); err != nil {
		return err
	}
	data, err := readBody(w, r, s.maxImport)
	if err != nil {
		return err
	}
	out := apitype.ImportReport{DryRun: dryRun, Pipelines: []apitype.ImportedPipeline{}}
	docs, err := pipeline.SplitDocuments(data)
	if err != nil {
		return &Error{
			Status:  http.StatusBadRequest,
			Code:    apitype.CodeInvalidPipeline,
			Message: "the export cannot be read: " + err.Error(),
			Err:     err,
		}
	}
	opts := s.validate
	opts.CheckTarget = s.checkTarget
	parsed := make([]*pipeline.Pipeline, len(docs))
	seen := map[[2]string]int{}
	for i, doc := range docs {
		p, err := pipeline.Parse(doc)
		var rep *pipeline.Report
		if err != nil {
			if _, shape := errors.AsType[*pipeline.ValidationError](err); !shape {
				where := ""
				if len(docs) > 1 {
					where = fmt.Sprintf("[%d]: ", i)
				}
				return &Error{
					Status:  http.StatusBadRequest,
					Code:    apitype.CodeInvalidPipeline,
					Message: "the export cannot be read: " + where + err.Error(),
					Err:     err,
				}
			}
			rep = pipeline.FailedReport(err) // a shape Sluice cannot hold
		} else {
			parsed[i] = p
			rep = p.Report(opts)
			if int64(len(doc)) > s.maxDocument {
				rep.WontRun = append(rep.WontRun, pipeline.Problem{
					Msg: fmt.Sprintf("the pipeline is %d bytes; a pipeline document may be at most %d; split its stages across pipelines", len(doc), s.maxDocument),
				})
			}
			key := [2]string{p.Application, p.Name}
			if j, dup := seen[key]; dup && p.Application != "" && p.Name != "" {
				rep.WontRun = append(rep.WontRun, pipeline.Problem{
					Path: "name",
					Msg:  fmt.Sprintf("pipeline %s/%s is also at index %d of the export; give each pipeline its own name", p.Application, p.Name, j),
				})
			} else if !dup {
				seen[key] = i
			}
			if len(rep.WontRun) > 0 {
				rep.Verdict = pipeline.VerdictWontRun
			}
		}
		ip := toImported(i, p, rep)
		if p == nil {
			ip.Application, ip.Name = pipeline.Identify(doc)
		}
		out.Pipelines = append(out.Pipelines, ip)
	}
	if dryRun {
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	// Every right first: a refusal saves nothing.
	for i, ip := range out.Pipelines {
		if ip.Verdict == apitype.VerdictWontRun {
			continue
		}
		if err := s.allow(r, parsed[i].Application); err != nil {
			return err
		}
	}
	for i := range out.Pipelines {
		ip := &out.Pipelines[i]
		if ip.Verdict == apitype.VerdictWontRun {
			continue
		}
		saved, err := s.savePipeline(r, ip.Application, ip.Name, parsed[i], docs[i])
		if err != nil {
			f, ok := saveRefusal(err)
			if !ok {
				return err
			}
			ip.WontRun = append(ip.WontRun, f)
			ip.Verdict = apitype.VerdictWontRun
			continue
		}
		ip.Saved, ip.Revision = true, saved.Revision
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// saveRefusal is a save's refusal (an id that belongs to another
// pipeline) as a finding; ok is false for an internal error.
func saveRefusal(err error) (apitype.ImportFinding, bool) {
	if ve, ok := errors.AsType[*pipeline.ValidationError](err); ok && len(ve.Problems) > 0 {
		return apitype.ImportFinding{Path: ve.Problems[0].Path, Message: ve.Problems[0].Msg}, true
	}
	if he, ok := errors.AsType[*Error](err); ok && he.Status < 500 {
		return apitype.ImportFinding{Path: "id", Message: he.Message}, true
	}
	return apitype.ImportFinding{}, false
}

// toImported is a pipeline's report on the wire; p is nil when the
// document could not be parsed.
func toImported(index int, p *pipeline.Pipeline, rep *pipeline.Report) apitype.ImportedPipeline {
	out := apitype.ImportedPipeline{
		Index:   index,
		Verdict: string(rep.Verdict),
		Differs: toFindings(rep.Differs),
		WontRun: toFindings(rep.WontRun),
		Stages:  make([]apitype.ImportedStage, 0, len(rep.Stages)),
	}
	if p != nil {
		out.Application, out.Name = p.Application, p.Name
	}
	for _, st := range rep.Stages {
		out.Stages = append(out.Stages, apitype.ImportedStage{
			RefID: st.RefID, Name: st.Name, Type: st.Type, Verdict: string(st.Verdict),
			Differs: toFindings(st.Differs), WontRun: toFindings(st.WontRun),
		})
	}
	return out
}

func toFindings(ps []pipeline.Problem) []apitype.ImportFinding {
	if len(ps) == 0 {
		return nil
	}
	out := make([]apitype.ImportFinding, len(ps))
	for i, p := range ps {
		out[i] = apitype.ImportFinding{Path: p.Path, Message: p.Msg, Kind: string(p.Kind)}
	}
	return out
}

// checkTarget is ValidateOptions.CheckTarget: the configured check, or
// none.
func (s *server) checkTarget(account, region string) error {
	if s.targets == nil {
		return nil
	}
	return s.targets(account, region)
}
