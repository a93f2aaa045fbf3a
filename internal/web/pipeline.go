package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/pipeline"
)

// pipelineView is the Pipeline page.
type pipelineView struct {
	App, Name   string
	Latest      *apitype.Pipeline
	Description string
	Graph       *stageGraph
	// Format is "json" or "yaml": how Document is written.
	Format      string
	Document    string
	JSONURL     string
	YAMLURL     string
	SaveURL     string
	ValidateURL string
	Run         *runForm
	Recent      []execRow
	AllURL      string
	Revisions   []apitype.PipelineRevision
	// From and To are the revisions compared; Diff is empty when they
	// are equal or none was asked for.
	From, To  int
	Compared  bool
	Diff      []diffHunk
	DiffEmpty bool
	// Plan is what a run with the Run form's parameters would change,
	// when the viewer asked (Plan button).
	Plan *planView
}

// recentExecutions is how many executions the pipeline page lists.
const recentExecutions = 5

func (c *Console) pipeline(r *http.Request) (*page, error) {
	ctx := r.Context()
	app, name := r.PathValue("app"), r.PathValue("name")
	p, err := c.api.GetPipeline(ctx, app, name)
	if err != nil {
		return nil, err
	}
	self := pathJoin("pipelines", app, name)
	v := &pipelineView{
		App:         app,
		Name:        name,
		Latest:      p,
		Format:      "json",
		SaveURL:     "/api/v1" + self,
		ValidateURL: "/api/v1/pipelines/validate",
		AllURL:      "/executions?application=" + queryEscape(app) + "&pipeline=" + queryEscape(name),
	}
	// The format toggle keeps the revisions being compared.
	keep := url.Values{}
	for _, k := range []string{"from", "to"} {
		if val := r.URL.Query().Get(k); val != "" {
			keep.Set(k, val)
		}
	}
	v.JSONURL = self + queryString(keep) + "#document"
	keep.Set("format", "yaml")
	v.YAMLURL = self + queryString(keep) + "#document"
	doc, _ := pipeline.Parse(p.Document)
	if doc != nil {
		v.Description = doc.Description
		var nodes []*graphNode
		for _, s := range doc.Stages {
			nodes = append(nodes, &graphNode{RefID: s.RefID, Name: s.Name, Type: s.Type, Parents: s.RequisiteStageRefIDs})
		}
		v.Graph = layoutGraph(nodes)
	}
	v.Run = newRunForm("run", app, name, doc)
	v.Run.CSRF = sessionOf(r).CSRFToken
	if r.URL.Query().Get("format") == "yaml" {
		v.Format = "yaml"
	}
	if v.Document, err = render(p.Document, v.Format); err != nil {
		return nil, err
	}

	list, err := c.api.ListExecutions(ctx, apiclient.ListOptions{Application: app, Pipeline: name, Limit: recentExecutions})
	if err != nil {
		return nil, err
	}
	now := c.now().UnixMilli()
	for i := range list.Executions {
		v.Recent = append(v.Recent, newExecRow(&list.Executions[i], now))
	}
	if v.Revisions, err = c.api.ListRevisions(ctx, app, name); err != nil {
		return nil, err
	}
	if err := c.compare(r, v); err != nil {
		return nil, err
	}
	return &page{Name: "pipeline", Title: app + "/" + name, Nav: "applications", Data: v}, nil
}

// compare fills in the diff between the revisions ?from= and ?to=. By
// default the form offers the newest revision against the one before.
func (c *Console) compare(r *http.Request, v *pipelineView) error {
	q := r.URL.Query()
	if len(v.Revisions) > 0 {
		v.To = v.Revisions[0].Revision
		v.From = v.To
		if len(v.Revisions) > 1 {
			v.From = v.Revisions[1].Revision
		}
	}
	if q.Get("from") == "" && q.Get("to") == "" {
		return nil
	}
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
			return &pageError{Status: http.StatusBadRequest, Message: fmt.Sprintf("Revision %q is not a revision number.", s)}
		}
		*f.dst = n
	}
	ctx := r.Context()
	from, err := c.api.GetRevision(ctx, v.App, v.Name, v.From)
	if err != nil {
		return err
	}
	to, err := c.api.GetRevision(ctx, v.App, v.Name, v.To)
	if err != nil {
		return err
	}
	a, err := render(from.Document, v.Format)
	if err != nil {
		return err
	}
	b, err := render(to.Document, v.Format)
	if err != nil {
		return err
	}
	v.Compared = true
	v.Diff = hunks(diffLines(splitLines(a), splitLines(b)), 3)
	v.DiffEmpty = len(v.Diff) == 0
	return nil
}

// queryString is "?" and the encoded values, or "" when there are none.
func queryString(v url.Values) string {
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// render writes a JSON document in the given format.
func render(doc []byte, format string) (string, error) {
	if format == "yaml" {
		return toYAML(doc)
	}
	return prettyJSON(doc) + "\n", nil
}
