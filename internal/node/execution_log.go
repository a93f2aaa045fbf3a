package node

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/store"
)

// startExecutionLog logs what executions do, from the event log, until
// the returned function is called (it returns once the logging stopped):
// at info, one line for every status change of an execution or a stage
// (with the execution's ID, and the stage's refId and ID), and rollbacks
// and judgments. Only events committed after it starts are logged, not
// the history.
//
// On Postgres every server logs every execution's events, whichever
// server ran them: the log of any one server tells the whole story.
func (n *Node) startExecutionLog(ctx context.Context) (stop func(), err error) {
	after, err := n.Store.EventLastID(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.logExecutions(ctx, after)
	}()
	return func() { cancel(); <-done }, nil
}

// logExecutions logs the events of all executions with IDs above after
// until ctx ends or the engine stops. A subscription the engine ended
// because this reader fell behind is resumed after the highest ID it
// delivered; an event of a transaction that committed late may then be
// missed, which a log can afford.
func (n *Node) logExecutions(ctx context.Context, after int64) {
	log := n.log.With("subsystem", "executions")
	for {
		sub := n.Engine.Subscribe(ctx, "", after)
		for ev := range sub.C {
			after = max(after, ev.ID)
			logEvent(ctx, log, n.Store, ev)
		}
		if !errors.Is(sub.Err(), engine.ErrSubscriberTooSlow) {
			return
		}
		log.Warn("the execution log fell behind; some events were not logged", "after_event", after)
	}
}

// logEvent logs one event, if it is one worth logging at all.
func logEvent(ctx context.Context, log *slog.Logger, st store.Store, ev *store.Event) {
	switch apitype.EventType(ev.Type) {
	case apitype.EventExecutionStatus:
		var d apitype.ExecutionStatusData
		if json.Unmarshal(ev.Data, &d) != nil {
			return
		}
		attrs := []any{"id", ev.ExecutionID, "status", d.Status}
		if e, err := st.ExecutionGet(ctx, ev.ExecutionID); err == nil {
			attrs = append(attrs, "pipeline", e.Application+"/"+e.PipelineName, "user", e.User)
			if d.Status.Complete() && e.StartTime != nil {
				attrs = append(attrs, "duration", ev.CreatedAt.Sub(*e.StartTime).Round(time.Millisecond))
			}
		}
		log.Info("execution", attrs...)
	case apitype.EventExecutionRollback:
		var d apitype.ExecutionRollbackData
		_ = json.Unmarshal(ev.Data, &d)
		log.Info("execution rolling back", "id", ev.ExecutionID, "stages", d.Stages)
	case apitype.EventStageJudged:
		var d apitype.StageJudgedData
		_ = json.Unmarshal(ev.Data, &d)
		stage := ev.StageID
		if e, err := st.ExecutionGet(ctx, ev.ExecutionID); err == nil {
			for _, s := range e.Stages {
				if s.ID == ev.StageID {
					stage = s.RefID
				}
			}
		}
		log.Info("stage judged", "id", ev.ExecutionID, "stage", stage, "judgment", d.JudgmentStatus,
			"input", d.JudgmentInput, "user", d.User)
	case apitype.EventStageStatus:
		var d apitype.StageStatusData
		if json.Unmarshal(ev.Data, &d) != nil {
			return
		}
		attrs := []any{"id", ev.ExecutionID, "stage", d.RefID, "stage_id", ev.StageID, "name", d.Name, "status", d.Status}
		if d.Error != "" {
			attrs = append(attrs, "error", d.Error)
		}
		if d.Reason != "" {
			attrs = append(attrs, "reason", d.Reason)
		}
		log.Info("stage", attrs...)
	}
}
