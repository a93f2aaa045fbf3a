package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
)

// auditPageSize is how many audit entries a page lists.
const auditPageSize = 50

// auditView is the Audit page.
type auditView struct {
	// The filters, as given.
	Application, User, Action, Execution string
	Rows                                 []auditRow
	// NextURL is the next (older) page; FirstURL the newest, when this is
	// not it.
	NextURL, FirstURL string
	// Denied is the API's refusal: only admins read the whole log, and
	// anyone else an application they may read. Apps then lists the
	// applications the viewer may read, to choose from.
	Denied string
	// Apps are the applications the viewer may read, for the filter.
	Apps []string
}

// auditRow is one audit entry: who did what, when, from where.
type auditRow struct {
	ID          int64
	When        int64
	User        string
	Source      string
	Action      string
	Application string
	Pipeline    string
	PipelineURL string
	Execution   string
	ExecURL     string
	Stage       string
	Details     string
}

func (c *Console) audit(r *http.Request) (*page, error) {
	ctx := r.Context()
	q := r.URL.Query()
	v := &auditView{Application: q.Get("application"), User: q.Get("user"), Action: q.Get("action"), Execution: q.Get("execution")}
	p := &page{Name: "audit", Title: "Audit log", Nav: "audit", Data: v}

	filter := url.Values{}
	for k, val := range map[string]string{"application": v.Application, "user": v.User, "action": v.Action, "execution": v.Execution} {
		if val != "" {
			filter.Set(k, val)
		}
	}
	opts := apiclient.AuditOptions{Application: v.Application, User: v.User, Action: v.Action, Execution: v.Execution, Limit: auditPageSize}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 1 {
			return nil, &pageError{Status: http.StatusBadRequest, Message: "The page's before=" + b + " is not an audit entry number; start from the newest entries at /audit."}
		}
		opts.Before = n
		v.FirstURL = auditURL(filter)
	}

	pipelines, err := c.api.ListPipelines(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, pl := range pipelines {
		if !slices.Contains(v.Apps, pl.Application) {
			v.Apps = append(v.Apps, pl.Application)
		}
	}

	list, err := c.api.ListAudit(ctx, opts)
	var apiErr *apiclient.Error
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusForbidden {
		// Not an error page: the filter form is how to ask for what the
		// viewer may read.
		v.Denied = apiErr.Message
		p.Status = http.StatusForbidden
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range list.Entries {
		v.Rows = append(v.Rows, newAuditRow(e))
	}
	if list.NextBefore > 0 {
		next := url.Values{}
		for k, vs := range filter {
			next[k] = vs
		}
		next.Set("before", strconv.FormatInt(list.NextBefore, 10))
		v.NextURL = auditURL(next)
	}
	return p, nil
}

// auditURL is the Audit page with query q.
func auditURL(q url.Values) string {
	if len(q) == 0 {
		return "/audit"
	}
	return "/audit?" + q.Encode()
}

func newAuditRow(e apitype.AuditEntry) auditRow {
	row := auditRow{
		ID:          e.ID,
		When:        e.CreatedAt.UnixMilli(),
		User:        e.User,
		Source:      e.Source,
		Action:      e.Action,
		Application: e.Application,
		Pipeline:    e.Pipeline,
		Execution:   e.ExecutionID,
		Stage:       e.StageID,
	}
	if e.Application != "" && e.Pipeline != "" {
		row.PipelineURL = pathJoin("pipelines", e.Application, e.Pipeline)
	}
	if e.ExecutionID != "" {
		row.ExecURL = pathJoin("executions", e.ExecutionID)
		if e.StageID != "" {
			row.ExecURL += "?stage=" + queryEscape(e.StageID) + "#stage"
		}
	}
	if len(e.Details) > 0 {
		b, _ := json.Marshal(e.Details) // decoded from JSON, so it encodes; keys sorted
		row.Details = string(b)
	}
	return row
}
