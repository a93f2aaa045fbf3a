package pipeline

import (
	"fmt"
	"slices"
	"strings"
)

// PipelineTriggerStatuses are the values a pipeline trigger's status list
// may hold (Echo's and Orca's names for how the upstream execution ended).
var PipelineTriggerStatuses = []string{"successful", "failed", "canceled", "suspended"}

// pipelineTriggers checks the triggers of type "pipeline": the pipeline
// whose end starts this one, and the statuses that do.
func (v *validator) pipelineTriggers(p *Pipeline) {
	for i, t := range p.Triggers {
		if t.Type != "pipeline" {
			continue
		}
		path := fmt.Sprintf("triggers[%d]", i)
		if id, ok := t.Fields["pipeline"].(string); !ok || strings.TrimSpace(id) == "" {
			v.add(path+".pipeline", "is required: the id of the pipeline whose executions start this one when they end")
		}
		app, hasApp := t.Fields["application"].(string)
		if raw, ok := t.Fields["application"]; ok && !hasApp {
			v.add(path+".application", "must be a string, got %s", describe(raw))
		}
		list, ok := t.Fields["status"].([]any)
		switch {
		case !ok && t.Fields["status"] != nil:
			v.add(path+".status", "must be a list of %s, got %s", strings.Join(PipelineTriggerStatuses, ", "), describe(t.Fields["status"]))
		case len(list) == 0:
			v.add(path+".status", "is required: a list of one or more of %s (how the upstream execution ends); with none the trigger never fires", strings.Join(PipelineTriggerStatuses, ", "))
		}
		for j, s := range list {
			if str, ok := s.(string); !ok || !slices.Contains(PipelineTriggerStatuses, str) {
				v.add(fmt.Sprintf("%s.status[%d]", path, j), "must be one of %s, not %v", strings.Join(PipelineTriggerStatuses, ", "), s)
			}
		}
		if enabled, ok := t.Fields["enabled"].(bool); !ok || !enabled {
			if _, set := t.Fields["enabled"]; !set {
				v.warn(KindIgnored, path+".enabled", `is not set: as in Spinnaker, a pipeline trigger fires only with "enabled": true`)
			}
		}
		if v.opts.CheckApplication != nil && hasApp && app != "" && p.Application != "" && app != p.Application && !strings.Contains(app, "${") {
			if err := v.opts.CheckApplication(app, p.Application); err != nil {
				v.add(path+".application", "%s", firstLine(err))
			}
		}
	}
}

// pipelineStages checks, with CheckApplication, that the pipeline's
// application may start the pipelines its pipeline stages name.
func (v *validator) pipelineStages(p *Pipeline) {
	if v.opts.CheckApplication == nil || p.Application == "" {
		return
	}
	for i, s := range p.Stages {
		if s.Type != "pipeline" {
			continue
		}
		key := "pipelineApplication"
		app, _ := s.Fields[key].(string)
		if app == "" {
			key = "application"
			app, _ = s.Fields[key].(string)
		}
		if app == "" || app == p.Application || strings.Contains(app, "${") {
			continue
		}
		if err := v.opts.CheckApplication(p.Application, app); err != nil {
			v.add(fmt.Sprintf("stages[%d].%s", i, key), "%s", firstLine(err))
		}
	}
}
