package web

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/status"
)

// executionView is the Execution page.
type executionView struct {
	Exec        *apitype.Execution
	URL         string
	PipelineURL string
	Row         execRow
	Parameters  []keyValue
	Graph       *stageGraph
	Judgments   []judgmentView
	Stage       *stageView
	Actions     []actionView
	// Notes explain the execution's state: who canceled or paused it,
	// whether it waits in the queue.
	Notes []string
	// EventsURL is the execution's event stream.
	EventsURL string
	// AuditURL is the Audit page of this execution.
	AuditURL string
}

type keyValue struct {
	Key   string
	Value string
}

// actionView is a button that POSTs to the API.
type actionView struct {
	ID    string
	Label string
	URL   string
	// Body is the JSON body sent.
	Body string
	// Confirm, when set, is asked before acting.
	Confirm string
	// Danger styles the button as destructive.
	Danger bool
	// Missing is said when the server does not have the route yet.
	Missing string
}

// judgmentView is a manual judgment waiting for a person.
type judgmentView struct {
	FormID       string
	StageID      string
	Name         string
	Instructions string
	Inputs       []string
	URL          string
	CLI          string
	// MayJudge says who may judge the stage, when its
	// requiredJudgmentRoles or selectedStageRoles limit it.
	MayJudge string
	// Denied, when set, explains why the viewer may not judge it; the
	// buttons are then disabled (the API would refuse them anyway).
	Denied string
	// Evidence is what the person judging should see beside the buttons.
	Evidence *evidenceView
}

// stageView is the stage panel.
type stageView struct {
	ID, RefID, Name, Type string
	Status                status.Status
	StartTime, EndTime    int64
	Elapsed               int64
	Running               bool
	// Errors are the stage's error messages, what to fix first.
	Errors []string
	// Window says, while the stage waits for its deployment window, when
	// the window opens (the window task's progress message).
	Window   string
	Tasks    []taskView
	Invokes  []invokeView
	Judgment []keyValue
	Context  string
	Outputs  string
	Actions  []actionView
	// Reports are the canary analyses the stage holds.
	Reports []*canaryReportView
	// Rollout is a $PROGRESSIVE Route's traffic shift (rollout.go).
	Rollout *rolloutView
	// Child is the execution a pipeline stage started.
	Child *childView
}

// childView links a pipeline stage to the execution it started.
type childView struct {
	Name, URL string
	Status    string // the child's status as the stage last saw it
}

// taskView is one task on the stage's timeline.
type taskView struct {
	Name               string
	Status             status.Status
	StartTime, EndTime int64
	Elapsed            int64
	// BarX and BarW place the task on a timeline 100 units wide.
	BarX, BarW float64
}

// invokeView is one entry of invokeResultsList: an invocation of a Lambda
// function and what came back.
type invokeView struct {
	N      int
	Fields []keyValue
	Body   string
	Error  string
	Log    string
}

func (c *Console) execution(r *http.Request) (*page, error) {
	id := r.PathValue("id")
	e, err := c.api.GetExecution(r.Context(), id)
	if err != nil {
		return nil, err
	}
	now := c.now().UnixMilli()
	self := pathJoin("executions", e.ID)
	v := &executionView{
		Exec:        e,
		URL:         self,
		PipelineURL: pathJoin("pipelines", e.Application, e.PipelineName),
		Row:         newExecRow(e, now),
		EventsURL:   "/api/v1" + self + "/events",
		AuditURL:    "/audit?execution=" + queryEscape(e.ID),
	}
	v.Parameters, v.Notes = triggerAndNotes(e)
	api := "/api/v1" + self
	running := !e.Status.Complete()
	if running {
		v.Actions = append(v.Actions, actionView{ID: "act-cancel", Label: "Cancel", URL: api + "/cancel", Body: `{"reason":"canceled from the console"}`,
			Confirm: "Cancel this execution?", Danger: true})
	}
	switch e.Status {
	case status.Running:
		v.Actions = append(v.Actions, actionView{ID: "act-pause", Label: "Pause", URL: api + "/pause", Body: "{}"})
	case status.Paused:
		v.Actions = append(v.Actions, actionView{ID: "act-resume", Label: "Resume", URL: api + "/resume", Body: "{}"})
	}
	if !running && canRollBack(e) {
		v.Actions = append(v.Actions, actionView{ID: "act-rollback", Label: "Roll back", URL: api + "/rollback", Body: "{}",
			Confirm: "Roll back what this execution changed?", Danger: true,
			Missing: "This server cannot roll back executions yet."})
	}

	selected := selectStage(e, r.URL.Query().Get("stage"))
	var nodes []*graphNode
	for i := range e.Stages {
		s := &e.Stages[i]
		nodes = append(nodes, &graphNode{
			RefID:    s.RefID,
			Name:     s.Name,
			Type:     s.Type,
			Status:   s.Status,
			Parents:  s.RequisiteStageRefIDs,
			Href:     self + "?stage=" + queryEscape(s.ID) + "#stage",
			Selected: s == selected,
			StartMs:  msOf(s.StartTime),
			EndMs:    msOf(s.EndTime),
			Elapsed:  elapsedText(s.StartTime, s.EndTime, now),
		})
		if s.Type == "manualJudgment" && s.Status == status.Running && e.Status == status.Running {
			jv := newJudgmentView(e, s, sessionOf(r))
			jv.Evidence = c.judgmentEvidence(r.Context(), e, s)
			v.Judgments = append(v.Judgments, jv)
		}
	}
	v.Graph = layoutGraph(nodes)
	if selected != nil {
		v.Stage = newStageView(e, selected, now)
	}
	return &page{Name: "execution", Title: fmt.Sprintf("%s/%s · %s", e.Application, e.PipelineName, shortID(e.ID)),
		Nav: "executions", LiveEvents: liveStream(v.EventsURL), Data: v}, nil
}

// canRollBack reports whether Roll back would undo something: the
// execution was not rolled back yet and one of its stages recorded how to
// undo its change (a Route stage's "rollback:stage"). Elsewhere the API
// would refuse, so the button is not offered.
func canRollBack(e *apitype.Execution) bool {
	if rolledBack(e) {
		return false
	}
	for _, s := range e.Stages {
		var out struct {
			Rollback json.RawMessage `json:"rollback:stage"`
		}
		if json.Unmarshal(s.Outputs, &out) == nil && len(out.Rollback) > 0 && string(out.Rollback) != "null" {
			return true
		}
	}
	return false
}

// rolledBack reports whether the execution's rollback stages were added.
func rolledBack(e *apitype.Execution) bool {
	var st struct {
		RolledBack bool `json:"rolledBack"`
	}
	_ = json.Unmarshal(e.State, &st)
	return st.RolledBack
}

// elapsedText is a stage's elapsed time, empty before it starts.
func elapsedText(start, end *int64, now int64) string {
	if msOf(start) == 0 {
		return ""
	}
	return durText(elapsed(start, end, now))
}

// selectStage picks the stage for the panel: the one asked for (by id,
// refId or name), else the first that failed, else the first running, else
// the last that started, else the first.
func selectStage(e *apitype.Execution, want string) *apitype.Stage {
	if len(e.Stages) == 0 {
		return nil
	}
	if want != "" {
		for i := range e.Stages {
			if s := &e.Stages[i]; s.ID == want || s.RefID == want || s.Name == want {
				return s
			}
		}
	}
	for _, pick := range []func(s *apitype.Stage) bool{
		func(s *apitype.Stage) bool { return s.Status.Failed() },
		func(s *apitype.Stage) bool { return s.Status.Active() },
	} {
		for i := range e.Stages {
			if pick(&e.Stages[i]) {
				return &e.Stages[i]
			}
		}
	}
	var last *apitype.Stage
	for i := range e.Stages {
		s := &e.Stages[i]
		if msOf(s.StartTime) != 0 && (last == nil || msOf(s.StartTime) >= msOf(last.StartTime)) {
			last = s
		}
	}
	return cmp.Or(last, &e.Stages[0])
}

// triggerAndNotes reads the trigger's parameters and explains the
// execution's state record.
func triggerAndNotes(e *apitype.Execution) (params []keyValue, notes []string) {
	var trig struct {
		Parameters map[string]any `json:"parameters"`
	}
	_ = json.Unmarshal(e.Trigger, &trig)
	for k, val := range trig.Parameters {
		params = append(params, keyValue{Key: k, Value: valueText(val)})
	}
	slices.SortFunc(params, func(a, b keyValue) int { return strings.Compare(a.Key, b.Key) })

	var st struct {
		Queued             bool   `json:"queued"`
		CanceledBy         string `json:"canceledBy"`
		CancellationReason string `json:"cancellationReason"`
		RolledBackBy       string `json:"rolledBackBy"`
		RollbackFailed     string `json:"rollbackFailed"`
		Paused             *struct {
			PausedBy  string `json:"pausedBy"`
			ResumedBy string `json:"resumedBy"`
		} `json:"paused"`
	}
	_ = json.Unmarshal(e.State, &st)
	if st.Queued && e.Status == status.NotStarted {
		notes = append(notes, "Waiting in the pipeline's queue for another execution to finish.")
	}
	if st.CanceledBy != "" || st.CancellationReason != "" {
		n := "Canceled"
		if st.CanceledBy != "" {
			n += " by " + st.CanceledBy
		}
		if st.CancellationReason != "" {
			n += ": " + st.CancellationReason
		}
		notes = append(notes, n)
	}
	if rolledBack(e) {
		by := ""
		switch st.RolledBackBy {
		case "":
		case "rollbackOnFailure":
			by = " because it failed and rollbackOnFailure is set"
		default:
			by = " by " + st.RolledBackBy
		}
		notes = append(notes, "Rolled back"+by+": the stages that undo what it changed were added to it.")
	}
	if st.RollbackFailed != "" {
		notes = append(notes, "Rollback failed: "+st.RollbackFailed)
	}
	if st.Paused != nil && e.Status == status.Paused && st.Paused.PausedBy != "" {
		notes = append(notes, "Paused by "+st.Paused.PausedBy+".")
	}
	return params, notes
}

func newJudgmentView(e *apitype.Execution, s *apitype.Stage, viewer *apitype.Session) judgmentView {
	var ctx struct {
		Instructions   string `json:"instructions"`
		JudgmentInputs []struct {
			Value string `json:"value"`
		} `json:"judgmentInputs"`
	}
	_ = json.Unmarshal(s.Context, &ctx)
	j := judgmentView{
		FormID:       "judgment-" + s.RefID,
		StageID:      s.ID,
		Name:         s.Name,
		Instructions: ctx.Instructions,
		URL:          "/api/v1" + pathJoin("executions", e.ID, "stages", s.ID, "judgment"),
	}
	for _, in := range ctx.JudgmentInputs {
		if in.Value != "" {
			j.Inputs = append(j.Inputs, in.Value)
		}
	}
	j.CLI = "sluice judge " + e.ID + " " + shellQuote(cmp.Or(s.Name, s.RefID)) + " continue"
	if len(j.Inputs) > 0 {
		j.CLI += " --input " + shellQuote(j.Inputs[0])
	}
	if roles := s.JudgmentRoles; len(roles) > 0 {
		j.MayJudge = "Only " + orList(roles) + " may judge this stage; admins may too."
		if !viewer.Admin && !slices.ContainsFunc(roles, func(r string) bool { return slices.Contains(viewer.Roles, r) }) {
			j.Denied = "You are signed in as " + viewer.Name + ", " + rolesPhrase(viewer.Roles) + ", so you cannot judge it; someone with one of those roles must."
		}
	}
	return j
}

// orList joins names as "a", "a or b", "a, b or c".
func orList(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func rolesPhrase(roles []string) string {
	switch len(roles) {
	case 0:
		return "who has no roles"
	case 1:
		return "whose role is " + roles[0]
	}
	return "whose roles are " + strings.Join(roles, ", ")
}

func newStageView(e *apitype.Execution, s *apitype.Stage, now int64) *stageView {
	v := &stageView{
		ID:        s.ID,
		RefID:     s.RefID,
		Name:      s.Name,
		Type:      s.Type,
		Status:    s.Status,
		StartTime: msOf(s.StartTime),
		EndTime:   msOf(s.EndTime),
		Elapsed:   elapsed(s.StartTime, s.EndTime, now),
		Running:   s.Status == status.Running,
		Context:   prettyJSON(s.Context),
		Outputs:   prettyJSON(s.Outputs),
	}
	var ctx, outputs map[string]any
	_ = json.Unmarshal(s.Context, &ctx)
	_ = json.Unmarshal(s.Outputs, &outputs)
	v.Errors = stageErrors(ctx, outputs)
	v.Tasks = taskTimeline(s, now)
	v.Invokes = invokeResults(outputs, ctx)
	v.Reports = stageReports("report-"+s.RefID, outputs, s.Status == status.Running)
	if s.Type == "manualJudgment" {
		for _, k := range []struct{ key, label string }{
			{"judgmentStatus", "Judgment"}, {"judgmentInput", "Input"}, {"lastModifiedBy", "Judged by"},
		} {
			if val := valueText(ctx[k.key]); val != "" {
				v.Judgment = append(v.Judgment, keyValue{Key: k.label, Value: val})
			}
		}
	}
	v.Rollout = newRolloutView(e, s)
	if id, _ := ctx["executionId"].(string); s.Type == "pipeline" && id != "" {
		name, _ := ctx["executionName"].(string)
		st, _ := ctx["status"].(string)
		v.Child = &childView{Name: cmp.Or(name, id), URL: pathJoin("executions", id), Status: st}
	}
	api := "/api/v1" + pathJoin("executions", e.ID, "stages", s.ID)
	switch {
	case s.Status == status.Running && inExecutionWindow(s):
		v.Window, _ = ctx["progress"].(string)
		confirm := "Run " + cmp.Or(s.Name, s.RefID) + " now, outside its execution window?"
		if text, _ := ctx["skipWindowText"].(string); strings.TrimSpace(text) != "" {
			confirm = text + "\n\n" + confirm
		}
		v.Actions = append(v.Actions, actionView{ID: "act-skip-window", Label: "Skip execution window", URL: api + "/skip-wait", Body: "{}", Confirm: confirm})
	case s.Type == "wait" && s.Status == status.Running:
		v.Actions = append(v.Actions, actionView{ID: "act-skip-wait", Label: "Skip wait", URL: api + "/skip-wait", Body: "{}"})
	}
	if s.Status.Complete() {
		v.Actions = append(v.Actions, actionView{ID: "act-restart", Label: "Restart stage", URL: api + "/restart", Body: "{}",
			Confirm: "Restart " + cmp.Or(s.Name, s.RefID) + " and everything after it?"})
	}
	return v
}

// stageErrors collects a stage's error messages from where the engine
// and the stage types put them, without repeats.
func stageErrors(ctx, outputs map[string]any) []string {
	var out []string
	add := func(v any) {
		switch t := v.(type) {
		case string:
			if t = strings.TrimSpace(t); t != "" && !slices.Contains(out, t) {
				out = append(out, t)
			}
		case []any:
			for _, x := range t {
				if s, ok := x.(string); ok {
					if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
						out = append(out, s)
					}
				}
			}
		}
	}
	add(ctx["error"])
	if ex, ok := ctx["exception"].(map[string]any); ok {
		if d, ok := ex["details"].(map[string]any); ok {
			add(d["error"])
			add(d["errors"])
		}
	}
	add(ctx["failureMessage"])
	add(outputs["failureMessage"])
	return out
}

// taskTimeline reads the engine's task records of a stage.
func taskTimeline(s *apitype.Stage, now int64) []taskView {
	var book struct {
		Tasks []struct {
			Name      string        `json:"name"`
			Status    status.Status `json:"status"`
			StartTime int64         `json:"startTime"`
			EndTime   int64         `json:"endTime"`
		} `json:"tasks"`
	}
	if json.Unmarshal(s.Tasks, &book) != nil {
		return nil
	}
	start := msOf(s.StartTime)
	end := cmp.Or(msOf(s.EndTime), now)
	span := float64(max(end-start, 1))
	var out []taskView
	for _, t := range book.Tasks {
		tv := taskView{Name: t.Name, Status: t.Status, StartTime: t.StartTime, EndTime: t.EndTime}
		if t.StartTime != 0 {
			tEnd := cmp.Or(t.EndTime, end)
			tv.Elapsed = tEnd - t.StartTime
			tv.BarX = min(max(float64(t.StartTime-start)/span*100, 0), 100)
			tv.BarW = max(min(float64(tEnd-t.StartTime)/span*100, 100-tv.BarX), 0.8)
		}
		out = append(out, tv)
	}
	return out
}

// invokeResults reads invokeResultsList from the stage's outputs or
// context: Spinnaker's shape is [{body, response, errors, logs}] with logs
// the base64 tail of the function's log; Sluice adds logText, the same
// tail decoded, which is shown instead.
func invokeResults(outputs, ctx map[string]any) []invokeView {
	list, ok := outputs["invokeResultsList"].([]any)
	if !ok {
		list, _ = ctx["invokeResultsList"].([]any)
	}
	var out []invokeView
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		iv := invokeView{N: i + 1}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			val := m[k]
			switch strings.ToLower(k) {
			case "body", "payload":
				iv.Body = bodyText(val)
			case "errors", "errormessage", "error":
				if s := errorText(val); s != "" {
					iv.Error = strings.TrimSpace(iv.Error + "\n" + s)
				}
			case "logs", "logresult", "log", "logtail":
				if iv.Log == "" {
					iv.Log = logText(val)
				}
			case "logtext": // Sluice's decoded copy of logs
				iv.Log = logText(val)
			default:
				if s := valueText(val); s != "" && s != "{}" && s != "[]" {
					iv.Fields = append(iv.Fields, keyValue{Key: k, Value: truncate(s, 400)})
				}
			}
		}
		out = append(out, iv)
	}
	return out
}

// bodyText shows a response body: JSON (also JSON inside a string)
// indented, anything else as it is.
func bodyText(v any) string {
	if s, ok := v.(string); ok {
		if json.Valid([]byte(s)) {
			return prettyJSON([]byte(s))
		}
		return s
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return valueText(v)
	}
	return string(b)
}

func errorText(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case []any:
		var parts []string
		for _, x := range t {
			if s := errorText(x); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "\n")
	case map[string]any:
		if len(t) == 0 {
			return ""
		}
	}
	return valueText(v)
}

// logText decodes a log tail that is base64 (as Lambda's LogResult is);
// text that is not comes back as it is.
func logText(v any) string {
	s, ok := v.(string)
	if !ok {
		return valueText(v)
	}
	if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s)); err == nil && utf8.Valid(b) && len(b) > 0 {
		return string(b)
	}
	return s
}

// inExecutionWindow reports whether the stage's current task is one of its
// execution window's (the engine marks them "window").
func inExecutionWindow(s *apitype.Stage) bool {
	var book struct {
		Current int `json:"current"`
		Tasks   []struct {
			Window bool `json:"window"`
		} `json:"tasks"`
	}
	if json.Unmarshal(s.Tasks, &book) != nil || book.Current < 0 || book.Current >= len(book.Tasks) {
		return false
	}
	return book.Tasks[book.Current].Window
}
