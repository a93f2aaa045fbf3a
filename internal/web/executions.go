package web

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/status"
)

// filterStatuses returns the execution statuses in the order the status
// filter offers them: what needs watching first.
func filterStatuses() []status.Status {
	return []status.Status{status.Running, status.Paused, status.NotStarted, status.Succeeded,
		status.Terminal, status.Canceled, status.Stopped, status.FailedContinue, status.Skipped}
}

// pageSize is how many executions a page lists.
const pageSize = 25

// executionsView is the Executions page.
type executionsView struct {
	Application string
	Pipeline    string
	Statuses    []statusFilter
	Rows        []execRow
	// NextURL is the next (older) page; FirstURL the newest, when this is
	// not it.
	NextURL  string
	FirstURL string
	// Apps and Pipelines feed the filter's choices.
	Apps      []string
	Pipelines []string
}

type statusFilter struct {
	Status  status.Status
	Checked bool
}

// execRow is one execution in a list.
type execRow struct {
	ID          string
	URL         string
	Application string
	Pipeline    string
	PipelineURL string
	Status      status.Status
	TriggerType string
	User        string
	BuildTime   int64
	StartTime   int64
	EndTime     int64
	// Duration is the running time so far for a running execution.
	Duration int64
	Running  bool
}

func newExecRow(e *apitype.Execution, now int64) execRow {
	row := execRow{
		ID:          e.ID,
		URL:         pathJoin("executions", e.ID),
		Application: e.Application,
		Pipeline:    e.PipelineName,
		PipelineURL: pathJoin("pipelines", e.Application, e.PipelineName),
		Status:      e.Status,
		User:        e.User,
		BuildTime:   e.BuildTime,
		StartTime:   msOf(e.StartTime),
		EndTime:     msOf(e.EndTime),
		Duration:    elapsed(e.StartTime, e.EndTime, now),
		Running:     !e.Status.Complete(),
	}
	var trig struct {
		Type string `json:"type"`
		User string `json:"user"`
	}
	_ = json.Unmarshal(e.Trigger, &trig)
	row.TriggerType = trig.Type
	row.User = cmp.Or(row.User, trig.User)
	return row
}

func (c *Console) executions(r *http.Request) (*page, error) {
	ctx := r.Context()
	q := r.URL.Query()
	v := &executionsView{Application: q.Get("application"), Pipeline: q.Get("pipeline")}
	var statuses []status.Status
	for _, list := range q["status"] {
		for s := range strings.SplitSeq(list, ",") {
			if s = strings.ToUpper(strings.TrimSpace(s)); s != "" {
				statuses = append(statuses, status.Status(s))
			}
		}
	}
	for _, s := range filterStatuses() {
		v.Statuses = append(v.Statuses, statusFilter{Status: s, Checked: slices.Contains(statuses, s)})
	}
	list, err := c.api.ListExecutions(ctx, apiclient.ListOptions{
		Application: v.Application,
		Pipeline:    v.Pipeline,
		Statuses:    statuses,
		Cursor:      q.Get("cursor"),
		Limit:       pageSize,
	})
	if err != nil {
		return nil, err
	}
	now := c.now().UnixMilli()
	for i := range list.Executions {
		v.Rows = append(v.Rows, newExecRow(&list.Executions[i], now))
	}
	filter := url.Values{}
	for _, k := range []string{"application", "pipeline"} {
		if s := q.Get(k); s != "" {
			filter.Set(k, s)
		}
	}
	if len(statuses) > 0 {
		names := make([]string, len(statuses))
		for i, s := range statuses {
			names[i] = string(s)
		}
		filter.Set("status", strings.Join(names, ","))
	}
	if list.NextCursor != "" {
		next := url.Values{}
		for k, vs := range filter {
			next[k] = vs
		}
		next.Set("cursor", list.NextCursor)
		v.NextURL = "/executions?" + next.Encode()
	}
	if q.Get("cursor") != "" {
		v.FirstURL = "/executions?" + filter.Encode()
	}
	pipelines, err := c.api.ListPipelines(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, p := range pipelines {
		if !slices.Contains(v.Apps, p.Application) {
			v.Apps = append(v.Apps, p.Application)
		}
		if (v.Application == "" || p.Application == v.Application) && !slices.Contains(v.Pipelines, p.Name) {
			v.Pipelines = append(v.Pipelines, p.Name)
		}
	}
	slices.Sort(v.Pipelines)
	title := "Executions"
	switch {
	case v.Application != "" && v.Pipeline != "":
		title = "Executions of " + v.Application + "/" + v.Pipeline
	case v.Application != "":
		title = "Executions of " + v.Application
	}
	return &page{Name: "executions", Title: title, Nav: "executions", LiveEvents: liveStream("/api/v1/events"), Data: v}, nil
}
