package web

import (
	"cmp"
	"encoding/json"
	"maps"
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
	// Search is the free text: words that match the trigger (key=value
	// one of its parameters) or the start of the execution's id.
	Search   string
	Statuses []statusFilter
	Rows     []execRow
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
	// Parameters are the trigger's parameters, by name, each linking to
	// the executions of the pipeline run with the same value.
	Parameters []paramLink
	User       string
	BuildTime  int64
	StartTime  int64
	EndTime    int64
	// Duration is the running time so far for a running execution.
	Duration int64
	Running  bool
}

// paramLink is one trigger parameter, key=value, and the search for it.
type paramLink struct {
	Text string
	URL  string
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
		Type       string         `json:"type"`
		User       string         `json:"user"`
		Parameters map[string]any `json:"parameters"`
	}
	_ = json.Unmarshal(e.Trigger, &trig)
	row.TriggerType = trig.Type
	for _, k := range slices.Sorted(maps.Keys(trig.Parameters)) {
		text := k + "=" + valueText(trig.Parameters[k])
		q := url.Values{"application": {e.Application}, "pipeline": {e.PipelineName}}
		// A value with a space cannot be one search word; its first
		// word finds it among others.
		if word := strings.Fields(valueText(trig.Parameters[k])); len(word) == 1 && !strings.ContainsAny(k, " =") {
			q.Set("q", k+"="+word[0])
		} else if len(word) > 0 {
			q.Set("q", word[0])
		}
		row.Parameters = append(row.Parameters, paramLink{Text: text, URL: "/executions?" + q.Encode()})
	}
	row.User = cmp.Or(row.User, trig.User)
	return row
}

func (c *Console) executions(r *http.Request) (*page, error) {
	ctx := r.Context()
	q := r.URL.Query()
	v := &executionsView{Application: q.Get("application"), Pipeline: q.Get("pipeline"), Search: strings.TrimSpace(q.Get("q"))}
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
		Search:      v.Search,
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
	for k, s := range map[string]string{"application": v.Application, "pipeline": v.Pipeline, "q": v.Search} {
		if s != "" {
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
	if v.Search != "" {
		title += " matching " + v.Search
	}
	return &page{Name: "executions", Title: title, Nav: "executions", LiveEvents: liveStream("/api/v1/events"), Data: v}, nil
}
