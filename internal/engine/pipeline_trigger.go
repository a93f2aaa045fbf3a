package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/trigger"
)

// Pipeline triggers: {"type": "pipeline", "application", "pipeline",
// "status": ["successful", "failed", "canceled"], "enabled": true} starts
// the pipeline that carries it when an execution of the named pipeline
// (by its id, Spinnaker's pipeline config id) ends with one of the listed
// statuses, as Orca's DependentPipelineExecutionListener does. The
// execution_ended job of the upstream execution fires them (children.go),
// so each matching end starts each downstream pipeline exactly once: the
// executions it starts commit with the job's completion.

// PipelineTriggerStatus is the name a pipeline trigger's status list uses
// for an execution's final status (Orca's convertStatus): SUCCEEDED is
// "successful", CANCELED "canceled", SUSPENDED "suspended", anything else
// "failed".
func PipelineTriggerStatus(s status.Status) string {
	switch s {
	case status.Canceled:
		return "canceled"
	case status.Succeeded:
		return "successful"
	case "SUSPENDED":
		return "suspended"
	}
	return "failed"
}

// pipelinesTriggeredBy returns the saved pipelines that may have a
// pipeline trigger on the pipeline of execution id. It is the seam where
// an index of triggers kept at save time would go; for now it lists the
// pipelines and keeps those whose document mentions the pipeline's id.
// It reads committed data, outside the job's transaction: a pipeline
// saved meanwhile is as if saved after the execution ended.
func (e *Engine) pipelinesTriggeredBy(ctx context.Context, id string) ([]*store.Pipeline, error) {
	ended, err := e.store.ExecutionGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rows, err := pipelineTriggersOf(ctx, e.store, ended.PipelineConfigID)
	if err != nil {
		return nil, err
	}
	var out []*store.Pipeline
	seen := map[string]bool{}
	for _, row := range rows {
		if seen[row.PipelineID] {
			continue
		}
		seen[row.PipelineID] = true
		p, err := e.store.PipelineGetByID(ctx, row.PipelineID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read pipeline %s for its pipeline trigger: %w", row.PipelineID, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// pipelineTriggersOf lists, from the trigger index, the enabled pipeline
// triggers that the end of an execution of pipeline configID may fire.
func pipelineTriggersOf(ctx context.Context, q store.Querier, configID string) ([]*store.Trigger, error) {
	if configID == "" {
		return nil, nil
	}
	rows, err := q.TriggerList(ctx, &store.TriggerListParams{Type: trigger.TypePipeline, Source: configID, EnabledOnly: true})
	if err != nil {
		return nil, fmt.Errorf("list the pipeline triggers on pipeline %s: %w", configID, err)
	}
	return rows, nil
}

// pipelineTriggerMatches reports whether trigger fires on the end of an
// execution of pipeline configID with final status: Orca's test, which
// wants "enabled": true.
func pipelineTriggerMatches(trigger pipeline.Trigger, configID string, final status.Status) bool {
	if trigger.Type != "pipeline" {
		return false
	}
	if enabled, _ := trigger.Fields["enabled"].(bool); !enabled {
		return false
	}
	if id, _ := trigger.Fields["pipeline"].(string); id == "" || id != configID {
		return false
	}
	list, _ := trigger.Fields["status"].([]any)
	return slices.Contains(list, any(PipelineTriggerStatus(final)))
}

// firePipelineTriggers starts every pipeline among candidates whose
// enabled pipeline trigger names ended's pipeline and final status. A pipeline that cannot
// be started (a required parameter without a default, an application
// that may not be started from ended's) is logged and skipped, as Orca
// does.
func (t *txn) firePipelineTriggers(ended *store.Execution, candidates []*store.Pipeline) error {
	if !ended.Status.Complete() || len(candidates) == 0 {
		return nil
	}
	upstream, err := t.wrap(ended)
	if err != nil {
		return err
	}
	for _, p := range candidates {
		doc, err := pipeline.Parse(p.Document)
		if err != nil {
			t.e.log.WarnContext(t.ctx, "pipeline trigger: stored pipeline does not parse", "pipeline", p.Application+"/"+p.Name, "error", err)
			continue
		}
		if disabled, _ := doc.Extra["disabled"].(bool); disabled {
			continue // Orca does not trigger a disabled pipeline
		}
		for i, trig := range doc.Triggers {
			if !pipelineTriggerMatches(trig, ended.PipelineConfigID, ended.Status) {
				continue
			}
			if err := t.firePipelineTrigger(upstream, p, i, trigger.Key(i, trig.Fields)); err != nil {
				return err
			}
			break // one execution per pipeline, however many of its triggers match
		}
	}
	return nil
}

// firePipelineTrigger starts p, whose i-th trigger (key) matched the end
// of upstream's execution; the trigger's last firing is recorded with it.
func (t *txn) firePipelineTrigger(upstream *run, p *store.Pipeline, i int, key string) error {
	log := t.e.log.With("pipeline", p.Application+"/"+p.Name, "trigger", fmt.Sprintf("triggers[%d]", i), "parent_execution_id", upstream.exec.ID)
	if err := t.e.checkApplication(upstream.exec.Application, p.Application); err != nil {
		log.WarnContext(t.ctx, "pipeline trigger not fired", "error", err)
		return nil
	}
	if d := upstream.chainDepth(); d >= MaxChainDepth {
		log.WarnContext(t.ctx, "pipeline trigger not fired: the chain of parent executions is too deep; do pipelines trigger each other?", "depth", d)
		return nil
	}
	parent := upstream.env(nil).Execution
	parent["type"] = "PIPELINE"
	exec, err := t.createExecution(&TriggerParams{
		Pipeline: p, Type: "pipeline", User: upstream.triggerUser(), TriggerKey: key,
		Extra: map[string]any{
			"parentExecution": parent,
			"strategy":        false,
			"correlationId":   fmt.Sprintf("%s_null_%s_%v", upstream.exec.ID, p.ID, epochMs(upstream.exec.StartTime)),
		},
	})
	var verr *pipeline.ValidationError
	if errors.As(err, &verr) {
		log.WarnContext(t.ctx, "pipeline trigger not fired", "error", err)
		return nil
	}
	if err != nil {
		return err
	}
	log.InfoContext(t.ctx, "pipeline trigger fired", "execution_id", exec.ID)
	return nil
}
