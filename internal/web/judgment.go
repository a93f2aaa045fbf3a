package web

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/status"
)

// evidenceView is what a judgment card shows beside its buttons: the
// function the execution releases, how its alias splits traffic now,
// each version's requests, errors and latency since the judgment began,
// and the canary analysis's recommendation when one ran. What is not
// known is said in Notes, never left blank.
type evidenceView struct {
	// Region is the account's region the function is in, as the stage
	// named it; empty when the stage left it to the account's first.
	Account, Region, Function, Alias string
	// Source says which stage named the function and alias.
	Source string
	// Since is when the judgment stage started (epoch ms): the figures
	// cover [Since, Until).
	Since, Until int64
	Split        *aliasView
	Versions     []evidenceVersion
	Notes        []string
	// Recommendation is the latest canary analysis's verdict.
	Recommendation *recommendationView
}

// evidenceVersion is one version's figures since the judgment began.
type evidenceVersion struct {
	Version string
	Label   string
	Color   int
	// Share is the version's share of the alias's traffic ("10%"), "—"
	// when the alias does not route to it.
	Share     string
	Requests  int64
	Errors    int64
	Throttles int64
	// PerMinute is "—" until the judgment has waited a minute.
	PerMinute   string
	ErrorRate   string
	P50, P99    string
	HasFigures  bool
	NoneReached string
}

// releaseTarget is the function and alias an execution works on, as an
// earlier stage names them.
type releaseTarget struct {
	account, region, function, alias, source string
}

// findTarget looks through the stages of e that started before judge,
// newest first, for the function and alias they worked on: a canary
// analysis's experiment scope, or a Route stage's deployment:aliasDeployed
// with its functionName.
func findTarget(e *apitype.Execution, judge *apitype.Stage) (releaseTarget, bool) {
	for _, s := range stagesBefore(e, judge) {
		var outputs map[string]any
		_ = json.Unmarshal(s.Outputs, &outputs)
		// The stage's region, as its context holds it once evaluated: a
		// canary analysis's report does not name one.
		var ctx struct {
			Account      string `json:"account"`
			Region       any    `json:"region"`
			FunctionName string `json:"functionName"`
		}
		_ = json.Unmarshal(s.Context, &ctx)
		region, _ := ctx.Region.(string)
		if rep, ok := decodeReport(outputs[canary.ReportKey]); ok && rep.Experiment.Function != "" {
			return releaseTarget{account: rep.Experiment.Account, region: region, function: rep.Experiment.Function, alias: rep.Experiment.Alias,
				source: cmp.Or(s.Name, s.RefID)}, true
		}
		alias, _ := outputs["deployment:aliasDeployed"].(string)
		if alias == "" {
			continue
		}
		fn, _ := outputs["functionName"].(string)
		if fn = cmp.Or(fn, ctx.FunctionName); fn != "" {
			return releaseTarget{account: ctx.Account, region: region, function: fn, alias: alias, source: cmp.Or(s.Name, s.RefID)}, true
		}
	}
	return releaseTarget{}, false
}

// stagesBefore are the stages of e other than judge that started no
// later than it, the latest first.
func stagesBefore(e *apitype.Execution, judge *apitype.Stage) []*apitype.Stage {
	at := msOf(judge.StartTime)
	var out []*apitype.Stage
	for i := range e.Stages {
		s := &e.Stages[i]
		if s.ID == judge.ID || msOf(s.StartTime) == 0 || (at != 0 && msOf(s.StartTime) > at) {
			continue
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b *apitype.Stage) int { return cmp.Compare(msOf(b.StartTime), msOf(a.StartTime)) })
	return out
}

// recommendation is the verdict of the latest canary analysis before
// judge, nil when none ran.
func recommendation(e *apitype.Execution, judge *apitype.Stage) *recommendationView {
	for _, s := range stagesBefore(e, judge) {
		var outputs map[string]any
		_ = json.Unmarshal(s.Outputs, &outputs)
		reports := stageReports("", outputs, s.Status == status.Running)
		if len(reports) == 0 {
			continue
		}
		rep, _ := decodeReport(outputs[canary.ReportKey])
		if rep == nil { // a rollout's steps: the last analysed one
			r := reports[len(reports)-1]
			return &recommendationView{StageName: cmp.Or(s.Name, s.RefID), StageURL: stageLink(e, s), State: r.State,
				Text: r.Headline + " (" + r.Title + ").", Reason: r.Reason}
		}
		rv := newRecommendation(cmp.Or(s.Name, s.RefID), stageLink(e, s), rep, s.Status == status.Running)
		return &rv
	}
	return nil
}

// stageLink is the execution page with s in the stage panel.
func stageLink(e *apitype.Execution, s *apitype.Stage) string {
	return pathJoin("executions", e.ID) + "?stage=" + queryEscape(s.ID) + "#stage"
}

// judgmentEvidence gathers the evidence for the judgment stage s of e.
// Each figure that cannot be had is explained in Notes.
func (c *Console) judgmentEvidence(ctx context.Context, e *apitype.Execution, s *apitype.Stage) *evidenceView {
	ev := &evidenceView{Since: msOf(s.StartTime), Recommendation: recommendation(e, s)}
	t, ok := findTarget(e, s)
	if !ok {
		ev.Notes = append(ev.Notes, "No earlier stage names a function and alias (a traffic-routing stage's deployment:aliasDeployed, or a canary analysis), so there is no split or traffic to show.")
		return ev
	}
	ev.Function, ev.Alias, ev.Source, ev.Region = t.function, t.alias, t.source, t.region
	accounts, err := c.api.ListAccounts(ctx)
	if err != nil {
		ev.Notes = append(ev.Notes, "The accounts could not be read: "+err.Error())
		return ev
	}
	i := slices.IndexFunc(accounts, func(a apitype.Account) bool {
		return a.Name == t.account || (t.account == "" && a.Local)
	})
	if i < 0 {
		ev.Account = t.account
		ev.Notes = append(ev.Notes, fmt.Sprintf("You may not see account %q, or this server does not have it, so its alias and traffic cannot be shown.", cmp.Or(t.account, "local")))
		return ev
	}
	acct := accounts[i]
	ev.Account = acct.Name
	where := acct.Name
	if t.region != "" {
		where += " (" + t.region + ")"
	}
	fns, err := c.api.QueryFunctions(ctx, acct.Name, apitype.FunctionQuery{Function: t.function, Region: t.region, Since: ev.Since})
	if err != nil {
		ev.Notes = append(ev.Notes, fmt.Sprintf("The function %s in %s could not be read: %v", t.function, where, err))
		return ev
	}
	if len(fns) == 0 {
		ev.Notes = append(ev.Notes, fmt.Sprintf("Function %s is not in account %s any more.", t.function, where))
		return ev
	}
	f := fns[0]
	routed := map[string]float64{}
	if j := slices.IndexFunc(f.Aliases, func(a apitype.FunctionAlias) bool { return a.Name == t.alias }); j >= 0 {
		a := f.Aliases[j]
		split := newAliasView(a, versionColor)
		ev.Split = &split
		for _, seg := range split.Segments {
			routed[seg.Version] = seg.Share
		}
	} else {
		ev.Notes = append(ev.Notes, fmt.Sprintf("Function %s has no alias %s now.", t.function, t.alias))
	}
	var metrics map[string]apitype.VersionMetrics
	switch {
	case f.Metrics != nil:
		ev.Until = f.Metrics.Until
		if time.Duration(ev.Until-ev.Since)*time.Millisecond > localRetention {
			ev.Notes = append(ev.Notes, "The local Lambda keeps an hour of metrics, so the figures cover the last hour of this judgment's wait, not all of it.")
		}
		metrics = map[string]apitype.VersionMetrics{}
		for _, m := range f.Metrics.Versions {
			metrics[m.Version] = m
		}
	case !acct.Local:
		ev.Notes = append(ev.Notes, fmt.Sprintf("Requests, errors and latency per version come from the local Lambda's metrics; account %s has none in Sluice.", acct.Name))
	default:
		ev.Notes = append(ev.Notes, "The local Lambda's metrics could not be read, so requests, errors and latency are unknown; the server log says why.")
	}
	var versions []string
	for v := range routed {
		versions = append(versions, v)
	}
	for v, m := range metrics {
		if _, ok := routed[v]; !ok && m.Invocations+m.Throttles > 0 {
			versions = append(versions, v)
		}
	}
	slices.SortFunc(versions, compareVersionNames)
	minutes := float64(ev.Until-ev.Since) / 60000
	for _, ver := range versions {
		row := evidenceVersion{Version: ver, Label: versionLabel(ver), Color: versionColor(ver), Share: "—", PerMinute: "—", ErrorRate: "—", P50: "—", P99: "—"}
		if share, ok := routed[ver]; ok {
			row.Share = pctText(share)
		}
		if m, ok := metrics[ver]; ok {
			row.HasFigures = true
			row.Requests, row.Errors, row.Throttles = m.Invocations, m.Errors, m.Throttles
			// A rate over less than a minute says little; the count does.
			if minutes >= 1 {
				row.PerMinute = strconv.FormatFloat(float64(m.Invocations)/minutes, 'f', 1, 64)
			}
			if m.Invocations > 0 {
				row.ErrorRate = strconv.FormatFloat(float64(m.Errors)/float64(m.Invocations)*100, 'f', 1, 64) + "%"
			}
			if m.DurationP50Ms != nil && m.DurationP99Ms != nil {
				row.P50 = strconv.FormatFloat(*m.DurationP50Ms, 'f', 1, 64) + " ms"
				row.P99 = strconv.FormatFloat(*m.DurationP99Ms, 'f', 1, 64) + " ms"
			}
		} else if metrics != nil {
			row.HasFigures = true
			row.NoneReached = "no requests reached it since the judgment began"
		}
		ev.Versions = append(ev.Versions, row)
	}
	return ev
}

// localRetention is how long the local Lambda keeps its metrics.
const localRetention = time.Hour

// compareVersionNames orders published versions numerically, $LATEST
// last.
func compareVersionNames(a, b string) int {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	switch {
	case errA == nil && errB == nil:
		return cmp.Compare(x, y)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return cmp.Compare(a, b)
}
