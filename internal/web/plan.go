package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
)

// planView is the plan shown beside the Run button: what a run with the
// form's parameters would change (Plan), or why none could be made.
type planView struct {
	Plan   *apitype.Plan
	Error  string
	Stages []planStage
}

// planStage is one stage of a plan, with its mark (+ ~ - = ? !).
type planStage struct {
	apitype.StagePlan
	Mark    string
	Changes []planChange
}

// planChange is one change, in words.
type planChange struct {
	Kind, Field, Text, Note string
	Class                   string // add, remove, modify, same
}

// planPipeline shows the pipeline page with the plan of a run with the
// Run form's parameters. The form is posted with the session's CSRF
// token, which the API requires of a session's POST; the plan itself
// changes nothing.
func (c *Console) planPipeline(r *http.Request) (*page, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, &pageError{Status: http.StatusBadRequest, Message: "The plan form could not be read (" + err.Error() + "); reload the page and try again."}
	}
	p, err := c.pipeline(r)
	if err != nil {
		return nil, err
	}
	v := p.Data.(*pipelineView)
	params := map[string]any{}
	for i := range v.Run.Params {
		f := &v.Run.Params[i]
		if val := strings.TrimSpace(r.PostForm.Get(f.Name)); val != "" {
			params[f.Name] = val
			f.Value = val // the form keeps what was planned
		}
	}
	h := http.Header{}
	h.Set(csrfHeader, r.PostForm.Get("csrf"))
	plan, err := c.api.Plan(r.Context(), v.App, v.Name, apitype.PlanRequest{Parameters: params}, h)
	var apiErr *apiclient.Error
	switch {
	case err == nil:
		v.Plan = newPlanView(plan)
	case isUnauthenticated(err):
		return nil, err
	case errors.As(err, &apiErr) && apiErr.Status < 500:
		v.Plan = &planView{Error: apiErr.Error()}
	default:
		return nil, err
	}
	return p, nil
}

func newPlanView(p *apitype.Plan) *planView {
	v := &planView{Plan: p}
	for _, s := range p.Stages {
		ps := planStage{StagePlan: s, Mark: apitype.PlanMark(s.Action)}
		for _, c := range s.Changes {
			pc := planChange{Kind: c.Kind, Field: c.Field, Note: c.Note}
			switch c.Kind {
			case apitype.ChangeModify:
				pc.Class, pc.Text = "modify", apitype.PlanText(c.Old)+" → "+apitype.PlanText(c.New)
			case apitype.ChangeAdd:
				pc.Class, pc.Text = "add", apitype.PlanText(c.New)
			case apitype.ChangeRemove:
				pc.Class = "remove"
				if c.Old != nil {
					pc.Text = apitype.PlanText(c.Old)
				}
			default:
				pc.Class = "same"
				if c.New != nil {
					pc.Text = apitype.PlanText(c.New)
				}
			}
			ps.Changes = append(ps.Changes, pc)
		}
		v.Stages = append(v.Stages, ps)
	}
	return v
}
