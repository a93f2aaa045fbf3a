package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// maxListLimit bounds ?limit= on GET /executions.
const maxListLimit = 500

// requireEngine fails when the server runs without an engine.
func (s *server) requireEngine() error {
	if s.engine == nil {
		return &Error{
			Status:  http.StatusServiceUnavailable,
			Code:    apitype.CodeUnavailable,
			Message: "this server runs without an execution engine; executions are not available",
		}
	}
	return nil
}

// decodeTrigger decodes and checks a trigger request body.
func decodeTrigger(data []byte) (*apitype.TriggerRequest, error) {
	var req apitype.TriggerRequest
	if err := decodeJSON(data, &req); err != nil {
		return nil, err
	}
	for k, v := range req.Parameters {
		n, err := plainNumbers(v)
		if err != nil {
			e := badRequest("parameter %q: %v", k, err)
			e.Details = []apitype.ErrorDetail{{Path: "parameters." + k, Message: err.Error()}}
			return nil, e
		}
		req.Parameters[k] = n
	}
	for i, a := range req.Artifacts {
		n, err := plainNumbers(map[string]any(a))
		if err != nil {
			return nil, badRequest("artifacts[%d]: %v", i, err)
		}
		req.Artifacts[i] = n.(map[string]any)
	}
	if _, err := pipeline.ParseArtifacts("artifacts", artifactList(req.Artifacts)); err != nil {
		e := badRequest("%v", err)
		e.Details = []apitype.ErrorDetail{{Path: "artifacts", Message: err.Error()}}
		return nil, e
	}
	if len(req.Type) > 100 {
		return nil, badRequest("trigger type is %d characters long; the limit is 100", len(req.Type))
	}
	return &req, nil
}

func artifactList(list []map[string]any) any {
	if list == nil {
		return nil
	}
	out := make([]any, len(list))
	for i, a := range list {
		out[i] = a
	}
	return out
}

// plainNumbers replaces the json.Numbers of a decoded value with int64 when
// whole and float64 otherwise, as the pipeline package decodes documents.
// A number beyond float64's range is an error.
func plainNumbers(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, nil
		}
		f, err := v.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s is out of range", v)
		}
		return f, nil
	case map[string]any:
		for k, e := range v {
			n, err := plainNumbers(e)
			if err != nil {
				return nil, err
			}
			v[k] = n
		}
	case []any:
		for i, e := range v {
			n, err := plainNumbers(e)
			if err != nil {
				return nil, err
			}
			v[i] = n
		}
	}
	return v, nil
}

// pipelineRequest reads a request about the saved pipeline of the path's
// {app} and {name} that the engine serves: it checks the engine is up
// and the route's right on the application, decodes the JSON body with
// decode and returns the pipeline's newest revision with it.
func pipelineRequest[T any](s *server, w http.ResponseWriter, r *http.Request, decode func([]byte) (T, error)) (*store.Pipeline, T, error) {
	var req T
	if err := s.requireEngine(); err != nil {
		return nil, req, err
	}
	app, name := r.PathValue("app"), r.PathValue("name")
	if err := s.allow(r, app); err != nil {
		return nil, req, err
	}
	if err := requireJSON(r); err != nil {
		return nil, req, err
	}
	data, err := readBody(w, r, maxRequestBytes)
	if err != nil {
		return nil, req, err
	}
	if req, err = decode(data); err != nil {
		return nil, req, err
	}
	p, err := s.store.PipelineGet(r.Context(), app, name)
	if err != nil {
		return nil, req, orNotFound(err, "pipeline %s/%s not found", app, name)
	}
	return p, req, nil
}

func (s *server) triggerExecution(w http.ResponseWriter, r *http.Request) error {
	p, req, err := pipelineRequest(s, w, r, decodeTrigger)
	if err != nil {
		return err
	}
	exec, err := s.engine.Trigger(r.Context(), &engine.TriggerParams{
		Pipeline:   p,
		Type:       req.Type,
		User:       s.who(r).Name,
		Parameters: req.Parameters,
		Artifacts:  req.Artifacts,
		// An absent list expects every expected artifact; an empty one none.
		ExpectedArtifactIDs: req.ExpectedArtifactIDs,
	})
	if err != nil {
		var ve *pipeline.ValidationError
		if errors.As(err, &ve) {
			what := "parameters of %s/%s are"
			if len(ve.Problems) > 0 {
				switch p := ve.Problems[0].Path; {
				case strings.HasPrefix(p, "artifacts"):
					what = "artifacts of this run of %s/%s are"
				case strings.HasPrefix(p, "expectedArtifacts"):
					what = "expectedArtifacts of pipeline %s/%s are"
				}
			}
			return &Error{
				Status:  http.StatusBadRequest,
				Code:    apitype.CodeInvalidParameters,
				Message: problemsMessage(fmt.Sprintf("the "+what+" invalid", p.Application, p.Name), len(ve.Problems)),
				Details: validationDetails(ve),
				Err:     err,
			}
		}
		return fmt.Errorf("trigger %s/%s: %w", p.Application, p.Name, err)
	}
	w.Header().Set("Location", "/api/v1/executions/"+exec.ID)
	writeJSON(w, http.StatusCreated, s.toExecution(exec))
	return nil
}

// loadExecution returns the execution named by the {id} path value.
func (s *server) loadExecution(r *http.Request) (*store.Execution, error) {
	id := r.PathValue("id")
	exec, err := s.store.ExecutionGet(r.Context(), id)
	if err != nil {
		return nil, orNotFound(err, "execution %s not found", id)
	}
	if err := s.allow(r, exec.Application); err != nil {
		return nil, err
	}
	return exec, nil
}

func (s *server) getExecution(w http.ResponseWriter, r *http.Request) error {
	exec, err := s.loadExecution(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.toExecution(exec))
	return nil
}

func (s *server) listExecutions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	params := &store.ExecutionListParams{
		Application:  q.Get("application"),
		PipelineName: q.Get("pipeline"),
		Search:       q.Get("q"),
		Cursor:       q.Get("cursor"),
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			return badRequest("limit %q is not a number from 1 to %d", v, maxListLimit)
		}
		params.Limit = n
	}
	for _, list := range q["status"] {
		for st := range strings.SplitSeq(list, ",") {
			st = strings.ToUpper(strings.TrimSpace(st))
			if st == "" {
				continue
			}
			if !status.Status(st).Known() {
				return badRequest("status %q is not an execution status; use one or more of %s", st, joinStatuses())
			}
			params.Statuses = append(params.Statuses, status.Status(st))
		}
	}
	awaiting := q.Get("awaiting")
	switch awaiting {
	case "":
	case "judgment":
		// A judgment waits in a running execution; the store finds them
		// with their waiting stages.
		if len(params.Statuses) > 0 && !slices.Contains(params.Statuses, status.Running) {
			return badRequest("awaiting=judgment lists running executions; drop status or include RUNNING")
		}
		params.Statuses = []status.Status{status.Running}
		params.AwaitingJudgment = true
	default:
		return badRequest("awaiting %q is not known; the only value is judgment (executions with a manual judgment waiting)", awaiting)
	}
	if params.Application != "" {
		if err := s.allowPerm(r, params.Application, auth.Read); err != nil {
			return err
		}
	}
	page, err := s.store.ExecutionList(r.Context(), params)
	if err != nil {
		return err
	}
	// A page lists what the principal may read; it may hold fewer than
	// limit executions, and the cursor still pages on.
	out := apitype.ExecutionList{Executions: make([]apitype.Execution, 0, len(page.Executions)), NextCursor: page.NextCursor}
	for _, e := range page.Executions {
		if s.canRead(r, e.Application) {
			out.Executions = append(out.Executions, s.toExecution(e))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func joinStatuses() string {
	all := status.All()
	names := make([]string, len(all))
	for i, st := range all {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}

// respondExecution answers an operation with the execution as it is now.
func (s *server) respondExecution(w http.ResponseWriter, r *http.Request, id string) error {
	exec, err := s.store.ExecutionGet(r.Context(), id)
	if err != nil {
		return orNotFound(err, "execution %s not found", id)
	}
	writeJSON(w, http.StatusOK, s.toExecution(exec))
	return nil
}

func (s *server) cancelExecution(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireEngine(); err != nil {
		return err
	}
	var req apitype.CancelRequest
	if err := decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	exec, err := s.loadExecution(r)
	if err != nil {
		return err
	}
	if err := s.engine.Cancel(r.Context(), exec.ID, s.who(r).Name, req.Reason); err != nil {
		return orNotFound(err, "execution %s not found", exec.ID)
	}
	return s.respondExecution(w, r, exec.ID)
}

func (s *server) pauseExecution(w http.ResponseWriter, r *http.Request) error {
	return s.executionAction(w, r, s.engine.Pause)
}

func (s *server) resumeExecution(w http.ResponseWriter, r *http.Request) error {
	return s.executionAction(w, r, s.engine.Resume)
}

func (s *server) rollbackExecution(w http.ResponseWriter, r *http.Request) error {
	return s.executionAction(w, r, s.engine.Rollback)
}

// executionAction serves an operation on an execution that takes no body
// but the user, and answers with the execution as it is afterwards.
func (s *server) executionAction(w http.ResponseWriter, r *http.Request, act func(ctx context.Context, executionID, user string) error) error {
	if err := s.requireEngine(); err != nil {
		return err
	}
	if err := decodeJSONBody(w, r, &struct{}{}); err != nil {
		return err
	}
	exec, err := s.loadExecution(r)
	if err != nil {
		return err
	}
	if err := act(r.Context(), exec.ID, s.who(r).Name); err != nil {
		return orNotFound(err, "execution %s not found", exec.ID)
	}
	return s.respondExecution(w, r, exec.ID)
}

// findStage finds a stage of exec by id, then refId, then name. A name
// shared by several stages is an error that lists their refIds.
func findStage(exec *store.Execution, ref string) (*store.Stage, error) {
	if ref == "" {
		return nil, badRequest("no stage given; name it by id, refId or name")
	}
	for _, st := range exec.Stages {
		if st.ID == ref {
			return st, nil
		}
	}
	for _, st := range exec.Stages {
		if st.RefID == ref {
			return st, nil
		}
	}
	var named []*store.Stage
	for _, st := range exec.Stages {
		if st.Name == ref {
			named = append(named, st)
		}
	}
	switch len(named) {
	case 1:
		return named[0], nil
	case 0:
		var have []string
		for _, st := range exec.Stages {
			have = append(have, fmt.Sprintf("%s (%s)", st.RefID, st.Name))
		}
		return nil, notFound("execution %s has no stage %q; its stages are %s", exec.ID, ref, strings.Join(have, ", "))
	}
	var refs []string
	for _, st := range named {
		refs = append(refs, st.RefID)
	}
	return nil, badRequest("%d stages of execution %s are named %q; name the stage by refId: %s",
		len(named), exec.ID, ref, strings.Join(refs, ", "))
}

// loadStage returns the execution named by {id} and its stage named by
// {stage}.
func (s *server) loadStage(r *http.Request) (*store.Execution, *store.Stage, error) {
	exec, err := s.loadExecution(r)
	if err != nil {
		return nil, nil, err
	}
	st, err := findStage(exec, r.PathValue("stage"))
	if err != nil {
		return nil, nil, err
	}
	return exec, st, nil
}

func (s *server) restartStage(w http.ResponseWriter, r *http.Request) error {
	return s.stageAction(w, r, s.engine.RestartStage)
}

func (s *server) skipWait(w http.ResponseWriter, r *http.Request) error {
	return s.stageAction(w, r, s.engine.SkipWait)
}

// stageAction serves an operation on one stage that takes no body but the
// user, and answers with the execution as it is afterwards.
func (s *server) stageAction(w http.ResponseWriter, r *http.Request, act func(ctx context.Context, executionID, stageID, user string) error) error {
	if err := s.requireEngine(); err != nil {
		return err
	}
	if err := decodeJSONBody(w, r, &struct{}{}); err != nil {
		return err
	}
	exec, st, err := s.loadStage(r)
	if err != nil {
		return err
	}
	if err := act(r.Context(), exec.ID, st.ID, s.who(r).Name); err != nil {
		return orNotFound(err, "stage %s of execution %s not found", st.RefID, exec.ID)
	}
	return s.respondExecution(w, r, exec.ID)
}

func (s *server) commandStage(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireEngine(); err != nil {
		return err
	}
	var req apitype.StageCommandRequest
	if err := decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Command) == "" {
		e := badRequest("no command given; give one the stage takes now, as its commands field lists (e.g. pause, resume, promote, abort)")
		e.Details = []apitype.ErrorDetail{{Path: "command", Message: `required, e.g. "pause"`}}
		return e
	}
	exec, st, err := s.loadStage(r)
	if err != nil {
		return err
	}
	if err := s.engine.Steer(r.Context(), exec.ID, st.ID, req.Command, s.who(r).Name); err != nil {
		return orNotFound(err, "stage %s of execution %s not found", st.RefID, exec.ID)
	}
	return s.respondExecution(w, r, exec.ID)
}

func (s *server) judgeStage(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireEngine(); err != nil {
		return err
	}
	var req apitype.JudgmentRequest
	if err := decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if req.Status != apitype.JudgmentContinue && req.Status != apitype.JudgmentStop {
		e := badRequest("judgment status %q is not %q or %q", req.Status, apitype.JudgmentContinue, apitype.JudgmentStop)
		e.Details = []apitype.ErrorDetail{{Path: "status", Message: `must be "continue" or "stop"`}}
		return e
	}
	exec, st, err := s.loadStage(r)
	if err != nil {
		return err
	}
	if err := s.policy.CheckJudge(s.who(r), judgmentRoles(st.Context)); err != nil {
		return forbidden(err)
	}
	err = s.engine.Judge(r.Context(), exec.ID, st.ID, engine.Judgment{Status: req.Status, Input: req.Input, User: s.who(r).Name})
	if err != nil {
		var ve *pipeline.ValidationError
		if errors.As(err, &ve) {
			return &Error{
				Status:  http.StatusBadRequest,
				Code:    apitype.CodeBadRequest,
				Message: problemsMessage("the judgment is invalid", len(ve.Problems)),
				Details: validationDetails(ve),
				Err:     err,
			}
		}
		return orNotFound(err, "stage %s of execution %s not found", st.RefID, exec.ID)
	}
	return s.respondExecution(w, r, exec.ID)
}

func (s *server) evaluate(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireEngine(); err != nil {
		return err
	}
	var req apitype.EvaluateRequest
	if err := decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Expression) == "" {
		e := badRequest("no expression given")
		e.Details = []apitype.ErrorDetail{{Path: "expression", Message: `required, e.g. "${trigger.parameters.env}"`}}
		return e
	}
	exec, err := s.loadExecution(r)
	if err != nil {
		return err
	}
	stageID := ""
	if req.Stage != "" {
		st, err := findStage(exec, req.Stage)
		if err != nil {
			return err
		}
		stageID = st.ID
	}
	result, err := s.engine.Evaluate(r.Context(), exec.ID, stageID, req.Expression)
	if err != nil {
		return evaluateError(err)
	}
	writeJSON(w, http.StatusOK, apitype.EvaluateResult{Result: result})
	return nil
}

// evaluateError classifies an error from Engine.Evaluate, which reports an
// expression that does not parse or evaluate as a *pipeline.ValidationError
// at path "expression".
func evaluateError(err error) error {
	var ve *pipeline.ValidationError
	if errors.As(err, &ve) {
		msg := "the expression cannot be evaluated"
		if len(ve.Problems) == 1 {
			msg += ": " + ve.Problems[0].Msg
		}
		return &Error{
			Status:  http.StatusBadRequest,
			Code:    apitype.CodeInvalidExpression,
			Message: msg,
			Details: validationDetails(ve),
			Err:     err,
		}
	}
	return err
}

// judgmentRoles are the roles a manualJudgment stage requires of whoever
// judges it: Orca's requiredJudgmentRoles, falling back to
// selectedStageRoles (ManualJudgmentStage). Each is a list of names or one
// comma-separated string, as the stage's validation accepts. A value of
// another shape, which validation would have refused, requires a role
// nobody has, so that a damaged stage fails closed.
func judgmentRoles(context json.RawMessage) []string {
	var ctx map[string]any
	_ = json.Unmarshal(context, &ctx) // a stage's context is a JSON object
	for _, key := range []string{"requiredJudgmentRoles", "selectedStageRoles"} {
		var roles []string
		switch v := ctx[key].(type) {
		case nil:
		case string:
			roles = strings.Split(v, ",")
		case []any:
			for _, e := range v {
				r, ok := e.(string)
				if !ok {
					return []string{"(" + key + " is not a list of role names)"}
				}
				roles = append(roles, r)
			}
		default:
			return []string{"(" + key + " is not a list of role names)"}
		}
		roles = slices.DeleteFunc(roles, func(r string) bool { return strings.TrimSpace(r) == "" })
		for i := range roles {
			roles[i] = strings.TrimSpace(roles[i])
		}
		if len(roles) > 0 {
			return roles
		}
	}
	return nil
}
