package web

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/pipeline"
)

// applicationsView is the Applications page: every application (or one)
// with its pipelines.
type applicationsView struct {
	// Only is the application the page is limited to, if any.
	Only string
	Apps []applicationView
}

type applicationView struct {
	Name          string
	ExecutionsURL string
	Pipelines     []pipelineRow
}

// pipelineRow is one pipeline with its last execution and Run form.
type pipelineRow struct {
	App, Name   string
	URL         string
	Revision    int
	Description string
	Stages      int
	UpdatedAt   int64
	UpdatedBy   string
	Last        *execRow
	Run         *runForm
}

// runForm is the parameters form of a pipeline, built from its
// parameterConfig.
type runForm struct {
	// ID prefixes the ids of the form's elements; unique on the page.
	ID         string
	App, Name  string
	TriggerURL string
	// PlanURL is the console page that plans a run with the form's
	// parameters; CSRF is the session's token, which that form sends.
	PlanURL string
	CSRF    string
	Params  []paramField
	// CLI is the equivalent shell command, shown without JavaScript.
	CLI string
}

type paramField struct {
	ID          string
	Name        string
	Label       string
	Description string
	Value       string
	Required    bool
	Options     []string
}

func (c *Console) applications(r *http.Request) (*page, error) {
	ctx := r.Context()
	only := r.PathValue("app")
	list, err := c.api.ListPipelines(ctx, only)
	if err != nil {
		return nil, err
	}
	if only != "" && len(list) == 0 {
		return nil, &pageError{Status: http.StatusNotFound, Message: fmt.Sprintf("Application %q has no pipelines.", only)}
	}
	v := &applicationsView{Only: only}
	for i, p := range list {
		if len(v.Apps) == 0 || v.Apps[len(v.Apps)-1].Name != p.Application {
			v.Apps = append(v.Apps, applicationView{
				Name:          p.Application,
				ExecutionsURL: "/executions?application=" + queryEscape(p.Application),
			})
		}
		row, err := c.pipelineRow(r, p, i)
		if err != nil {
			return nil, err
		}
		app := &v.Apps[len(v.Apps)-1]
		app.Pipelines = append(app.Pipelines, row)
	}
	title := "Applications"
	if only != "" {
		title = only
	}
	return &page{Name: "applications", Title: title, Nav: "applications", LiveEvents: liveStream("/api/v1/events"), Data: v}, nil
}

// pipelineRow reads a pipeline's document and last execution.
func (c *Console) pipelineRow(r *http.Request, p apitype.Pipeline, i int) (pipelineRow, error) {
	ctx := r.Context()
	row := pipelineRow{
		App:       p.Application,
		Name:      p.Name,
		URL:       pathJoin("pipelines", p.Application, p.Name),
		Revision:  p.Revision,
		UpdatedAt: p.UpdatedAt,
		UpdatedBy: p.UpdatedBy,
	}
	full, err := c.api.GetPipeline(ctx, p.Application, p.Name)
	if err != nil {
		if apiclient.IsNotFound(err) {
			return row, nil // deleted meanwhile
		}
		return row, err
	}
	doc, _ := pipeline.Parse(full.Document)
	if doc != nil {
		row.Description = doc.Description
		row.Stages = len(doc.Stages)
	}
	row.Run = newRunForm(fmt.Sprintf("run%d", i), p.Application, p.Name, doc)
	page, err := c.api.ListExecutions(ctx, apiclient.ListOptions{Application: p.Application, Pipeline: p.Name, Limit: 1})
	if err != nil {
		return row, err
	}
	if len(page.Executions) > 0 {
		last := newExecRow(&page.Executions[0], c.now().UnixMilli())
		row.Last = &last
	}
	return row, nil
}

// newRunForm builds the Run form of app/name from its document (nil when
// the document does not parse: the form then has no parameters).
func newRunForm(id, app, name string, doc *pipeline.Pipeline) *runForm {
	f := &runForm{
		ID:         id,
		App:        app,
		Name:       name,
		TriggerURL: "/api/v1" + pathJoin("pipelines", app, name, "executions"),
		PlanURL:    pathJoin("pipelines", app, name, "plan") + "#plan",
	}
	cli := []string{"sluice run " + shellQuote(app+"/"+name)}
	if doc != nil {
		for j, p := range doc.ParameterConfig {
			if p.Name == "" {
				continue
			}
			pf := paramField{
				ID:          fmt.Sprintf("%s-p%d", id, j),
				Name:        p.Name,
				Label:       cmp.Or(p.Label, p.Name),
				Description: p.Description,
				Value:       valueText(p.Default),
				Required:    p.Required,
			}
			if p.HasOptions || len(p.Options) > 0 {
				for _, o := range p.Options {
					pf.Options = append(pf.Options, o.Value)
				}
				if pf.Value != "" && !slices.Contains(pf.Options, pf.Value) {
					pf.Options = append([]string{pf.Value}, pf.Options...)
				}
			}
			f.Params = append(f.Params, pf)
			if pf.Value != "" {
				cli = append(cli, "-p "+shellQuote(pf.Name+"="+pf.Value))
			}
		}
	}
	f.CLI = strings.Join(cli, " ")
	return f
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@%+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
