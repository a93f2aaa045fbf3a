package httpapi

import (
	"encoding/json"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// Conversions from store records to wire types.

func toPipeline(p *store.Pipeline, withDocument bool) apitype.Pipeline {
	out := apitype.Pipeline{
		ID:          p.ID,
		Application: p.Application,
		Name:        p.Name,
		Revision:    p.Revision,
		UpdatedAt:   apitype.Millis(p.CreatedAt),
		UpdatedBy:   p.CreatedBy,
	}
	if withDocument {
		out.Document = p.Document
	}
	return out
}

func toRevision(p *store.Pipeline) apitype.PipelineRevision {
	return apitype.PipelineRevision{
		ID:          p.ID,
		Application: p.Application,
		Name:        p.Name,
		Revision:    p.Revision,
		CreatedAt:   apitype.Millis(p.CreatedAt),
		CreatedBy:   p.CreatedBy,
	}
}

// toExecution converts an execution, with the commands its running
// stages take now.
func (s *server) toExecution(e *store.Execution) apitype.Execution {
	out := apitype.Execution{
		ID:               e.ID,
		Application:      e.Application,
		PipelineName:     e.PipelineName,
		PipelineConfigID: e.PipelineConfigID,
		Revision:         e.PipelineRevision,
		Status:           e.Status,
		Trigger:          rawOrNil(e.Trigger),
		User:             e.User,
		BuildTime:        apitype.Millis(e.CreatedAt),
		StartTime:        apitype.MillisPtr(e.StartTime),
		EndTime:          apitype.MillisPtr(e.EndTime),
		Canceled:         e.Canceled,
		State:            rawOrNil(e.State),
	}
	var state struct {
		Notifications []apitype.NotificationDelivery `json:"notifications"`
	}
	if json.Unmarshal(e.State, &state) == nil {
		out.Notifications = state.Notifications
	}
	for _, st := range e.Stages {
		out.Stages = append(out.Stages, s.toStage(st))
	}
	return out
}

func (srv *server) toStage(s *store.Stage) apitype.Stage {
	return apitype.Stage{
		ID:                   s.ID,
		RefID:                s.RefID,
		Name:                 s.Name,
		Type:                 s.Type,
		Status:               s.Status,
		RequisiteStageRefIDs: append([]string{}, s.RequisiteStageRefIDs...), // [] rather than null
		Context:              rawOrNil(s.Context),
		Outputs:              rawOrNil(s.Outputs),
		Tasks:                rawOrNil(s.Tasks),
		StartTime:            apitype.MillisPtr(s.StartTime),
		EndTime:              apitype.MillisPtr(s.EndTime),
		JudgmentRoles:        judgmentRoles(s.Context),
		Commands:             srv.stageCommands(s),
	}
}

// stageCommands asks a running stage's type, when it takes commands
// (stage.Steerable), which ones it takes now; the engine checks the same
// when a command comes.
func (srv *server) stageCommands(s *store.Stage) []string {
	if srv.stages == nil || s.Status != status.Running {
		return nil
	}
	typ, _ := srv.stages.Lookup(s.Type)
	st, ok := typ.(stage.Steerable)
	if !ok {
		return nil
	}
	var ctx map[string]any
	if json.Unmarshal(s.Context, &ctx) != nil {
		return nil
	}
	return st.Commands(ctx)
}

func toEvent(ev *store.Event) apitype.Event {
	return apitype.Event{
		ID:          ev.ID,
		ExecutionID: ev.ExecutionID,
		StageID:     ev.StageID,
		Type:        apitype.EventType(ev.Type),
		Data:        rawOrNil(ev.Data),
		Time:        apitype.Millis(ev.CreatedAt),
	}
}

// rawOrNil drops empty and null JSON so that omitempty leaves it out, and
// anything that is not valid JSON, which would break the whole response.
func rawOrNil(m json.RawMessage) json.RawMessage {
	if len(m) == 0 || string(m) == "null" || !json.Valid(m) {
		return nil
	}
	return m
}
