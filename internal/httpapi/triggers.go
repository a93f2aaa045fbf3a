package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/trigger"
)

// Delivery ID headers, in the order they are read: Sluice's own, GitHub's
// and GitLab's. A delivery without one is never taken for a replay.
var deliveryHeaders = []string{"X-Sluice-Delivery", "X-GitHub-Delivery", "X-Gitlab-Event-UUID"}

// maxDeliveryID bounds a delivery ID, which is stored.
const maxDeliveryID = 200

// indexTriggers indexes the triggers of a pipeline revision saved in tx
// (nil: the pipeline was deleted) and, with an engine, schedules its cron
// triggers, in the same transaction.
func (s *server) indexTriggers(r *http.Request, tx store.Tx, pipelineID string, saved *store.Pipeline) error {
	if s.engine != nil {
		return s.engine.SyncTriggersTx(r.Context(), tx, pipelineID, saved)
	}
	_, err := engine.IndexTriggers(r.Context(), tx, pipelineID, saved)
	return err
}

// triggerStatuses lists a pipeline's triggers with their last firing.
func (s *server) triggerStatuses(r *http.Request, p *store.Pipeline) ([]apitype.TriggerStatus, error) {
	rows, err := s.store.TriggerList(r.Context(), &store.TriggerListParams{PipelineID: p.ID})
	if err != nil {
		return nil, err
	}
	out := make([]apitype.TriggerStatus, 0, len(rows))
	for _, row := range rows {
		ts := apitype.TriggerStatus{Key: row.Key, Position: row.Position, Type: row.Type, Source: row.Source,
			Enabled: row.Enabled, LastExecutionID: row.LastExecutionID, LastOutcome: row.LastOutcome,
			Runs: s.validate.TriggerTypes != nil && s.validate.TriggerTypes.Known(row.Type)}
		if row.LastFiredAt != nil {
			ms := apitype.Millis(*row.LastFiredAt)
			ts.LastFiredAt = &ms
		}
		out = append(out, ts)
	}
	return out, nil
}

// patchTrigger enables or disables one trigger of a pipeline: it saves a
// new revision whose trigger has "enabled" set, as Deck does.
func (s *server) patchTrigger(w http.ResponseWriter, r *http.Request) error {
	app, name, key := r.PathValue("app"), r.PathValue("name"), r.PathValue("key")
	if err := s.allow(r, app); err != nil {
		return err
	}
	if err := requireJSON(r); err != nil {
		return err
	}
	data, err := readBody(w, r, maxRequestBytes)
	if err != nil {
		return err
	}
	var req apitype.TriggerUpdate
	if err := decodeJSON(data, &req); err != nil {
		return err
	}
	if req.Enabled == nil {
		return badRequest(`the body must set "enabled" to true or false`)
	}
	var saved *store.Pipeline
	err = s.store.InTx(r.Context(), func(tx store.Tx) error {
		current, err := tx.PipelineGet(r.Context(), app, name)
		if err != nil {
			return orNotFound(err, "pipeline %s/%s not found", app, name)
		}
		doc, err := pipeline.Parse(current.Document)
		if err != nil {
			return fmt.Errorf("pipeline %s/%s: %w", app, name, err)
		}
		i := findTrigger(doc, key)
		if i < 0 {
			return &Error{Status: http.StatusNotFound, Code: apitype.CodeNotFound,
				Message: fmt.Sprintf("pipeline %s/%s has no trigger %q; name a trigger by its id or its position (0, 1, …), as sluice pipeline get shows", app, name, key)}
		}
		fields := maps.Clone(doc.Triggers[i].Fields)
		fields["enabled"] = *req.Enabled
		doc.Triggers[i].Fields = fields
		if *req.Enabled {
			// Enabling runs the trigger: it must be one Sluice runs,
			// with valid fields.
			if err := s.checkTrigger(doc, i); err != nil {
				return err
			}
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("encode pipeline: %w", err)
		}
		if raw, err = pipeline.KeepKeyOrder(raw, current.Document); err != nil {
			return fmt.Errorf("encode pipeline: %w", err)
		}
		saved, err = tx.PipelineSave(r.Context(), &store.PipelineSaveParams{ID: current.ID, Application: app, Name: name,
			Document: raw, User: s.who(r).Name})
		if err != nil {
			return err
		}
		if err := s.indexTriggers(r, tx, saved.ID, saved); err != nil {
			return err
		}
		action := "trigger.disable"
		if *req.Enabled {
			action = "trigger.enable"
		}
		return tx.AuditInsert(r.Context(), s.auditEntry(r, action, app, name,
			map[string]any{"trigger": trigger.Key(i, fields), "revision": saved.Revision}))
	})
	if err != nil {
		return err
	}
	out := toPipeline(saved, true)
	if out.Triggers, err = s.triggerStatuses(r, saved); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// findTrigger returns the position of the trigger key names (its key, or
// its position as a number), or -1.
func findTrigger(doc *pipeline.Pipeline, key string) int {
	for i, t := range doc.Triggers {
		if trigger.Key(i, t.Fields) == key {
			return i
		}
	}
	if n, err := strconv.Atoi(key); err == nil && n >= 0 && n < len(doc.Triggers) {
		return n
	}
	return -1
}

// checkTrigger validates the document with trigger i enabled and returns
// the problems of that trigger.
func (s *server) checkTrigger(doc *pipeline.Pipeline, i int) error {
	if tt := s.validate.TriggerTypes; tt == nil || !tt.Known(doc.Triggers[i].Type) {
		return &pipeline.ValidationError{Problems: []pipeline.Problem{{Path: fmt.Sprintf("triggers[%d].type", i),
			Msg: fmt.Sprintf("Sluice does not run %q triggers; it runs %s", doc.Triggers[i].Type, runnableTypes(s.validate.TriggerTypes))}}}
	}
	return doc.Validate(s.validate)
}

func runnableTypes(tt pipeline.TriggerTypes) string {
	if r, ok := tt.(*trigger.Registry); ok {
		return fmt.Sprintf("%q", r.Names())
	}
	return "none"
}

// deliverWebhook is POST /webhooks/webhook/{source}.
func (s *server) deliverWebhook(w http.ResponseWriter, r *http.Request) error {
	return s.deliver(w, r, trigger.TypeWebhook)
}

// deliverGit is POST /webhooks/git/{source}.
func (s *server) deliverGit(w http.ResponseWriter, r *http.Request) error {
	return s.deliver(w, r, trigger.TypeGit)
}

// deliver starts the pipelines whose enabled trigger of type typ the
// delivery addresses, may fire, and matches. A trigger may be fired by a
// principal with the execute right on its application (an API token, a
// session), or by a delivery signed with the secret the trigger names
// (secretName): X-Hub-Signature-256, or GitLab's X-Gitlab-Token.
func (s *server) deliver(w http.ResponseWriter, r *http.Request, typ string) error {
	if err := s.requireEngine(); err != nil {
		return err
	}
	if err := requireJSON(r); err != nil {
		return err
	}
	source := r.PathValue("source")
	body, err := readBody(w, r, maxRequestBytes)
	if err != nil {
		return err
	}
	var payload map[string]any
	if err := json.Unmarshal(body, &payload); err != nil || payload == nil {
		return badRequest("the delivery must be a JSON object")
	}
	var event *trigger.GitEvent
	if typ == trigger.TypeGit {
		event, err = trigger.ParseGitEvent(source, body)
		if errors.Is(err, trigger.ErrPing) {
			writeJSON(w, http.StatusOK, apitype.DeliveryResult{Executions: []apitype.DeliveredExecution{}})
			return nil
		}
		if err != nil {
			return badRequest("%v", err)
		}
	}
	params := &store.TriggerListParams{Type: typ, EnabledOnly: true}
	if typ == trigger.TypeWebhook {
		params.Source = source
	}
	rows, err := s.store.TriggerList(r.Context(), params)
	if err != nil {
		return err
	}
	principal := auth.FromContext(r.Context())
	deliveryID := ""
	for _, h := range deliveryHeaders {
		if deliveryID = r.Header.Get(h); deliveryID != "" {
			if len(deliveryID) > maxDeliveryID {
				return badRequest("%s is %d bytes long; a delivery ID may have at most %d", h, len(deliveryID), maxDeliveryID)
			}
			break
		}
	}
	out := apitype.DeliveryResult{Executions: []apitype.DeliveredExecution{}}
	addressed, allowed := 0, 0
	for _, row := range rows {
		p, err := s.store.PipelineGetByID(r.Context(), row.PipelineID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		doc, err := pipeline.Parse(p.Document)
		if err != nil || row.Position >= len(doc.Triggers) || trigger.Key(row.Position, doc.Triggers[row.Position].Fields) != row.Key {
			continue // saved again since the index was read
		}
		fields := doc.Triggers[row.Position].Fields
		if typ == trigger.TypeGit && !strings.EqualFold(trigger.Source(fields), source) {
			continue
		}
		addressed++
		user := ""
		if principal != nil && s.policy.Allows(principal, p.Application, auth.Execute) {
			user = principal.Name
		} else if name, _ := fields["secretName"].(string); name != "" && trigger.Verify([]byte(s.triggerSecrets[name]), r.Header, body) {
			user = typ + ":" + source
		}
		if user == "" {
			continue
		}
		allowed++
		extra := map[string]any{}
		for k, v := range fields {
			if k != "type" && k != "parameters" && k != "user" && k != "secretName" {
				extra[k] = v
			}
		}
		if deliveryID != "" {
			extra["eventId"] = deliveryID
		}
		var parameters map[string]any
		switch typ {
		case trigger.TypeWebhook:
			constraints, _ := fields["payloadConstraints"].(map[string]any)
			if !trigger.MatchPayload(constraints, payload) {
				continue
			}
			parameters = trigger.WebhookParameters(payload)
			extra["payload"] = payload
		case trigger.TypeGit:
			if !trigger.MatchGit(fields, event) {
				continue
			}
			extra["hash"], extra["branch"], extra["action"] = event.Hash, event.Branch, event.Action
			extra["project"], extra["slug"], extra["source"] = event.Project, event.Slug, event.Source
		}
		ctx := r.Context()
		if principal == nil || user != principal.Name {
			ctx = engine.WithAuditSource(ctx, s.clientIP(r)+" signature")
		}
		exec, err := s.engine.Trigger(ctx, &engine.TriggerParams{Pipeline: p, Type: typ, User: user, Parameters: parameters,
			Extra: extra, TriggerKey: row.Key, DeliveryID: deliveryID,
			Artifacts: payloadArtifacts(typ, payload), ExpectedArtifactIDs: expectedArtifactIDs(fields)})
		who := apitype.DeliveredTrigger{Application: p.Application, Pipeline: p.Name, Trigger: row.Key}
		var ve *pipeline.ValidationError
		switch {
		case errors.Is(err, engine.ErrReplayed):
			out.Replayed = append(out.Replayed, who)
		case errors.As(err, &ve):
			who.Message = ve.Error()
			out.Failed = append(out.Failed, who)
		case err != nil:
			return fmt.Errorf("trigger %s/%s: %w", p.Application, p.Name, err)
		default:
			out.Executions = append(out.Executions, apitype.DeliveredExecution{ID: exec.ID, Application: p.Application,
				Pipeline: p.Name, Trigger: row.Key})
		}
	}
	if allowed == 0 {
		switch {
		case principal == nil:
			return &Error{Status: http.StatusUnauthorized, Code: apitype.CodeUnauthenticated,
				Message: fmt.Sprintf("the delivery is neither signed with the secret of an enabled %s trigger of source %q (%s or %s) nor sent with an API token; sign it, or send Authorization: Bearer and a token with the execute right",
					typ, source, trigger.HeaderHubSignature, trigger.HeaderGitLabToken)}
		case addressed > 0:
			return forbidden(fmt.Errorf("%s may not execute the pipelines whose %s triggers have source %q", principal.Name, typ, source))
		default:
			return &Error{Status: http.StatusNotFound, Code: apitype.CodeNotFound,
				Message: fmt.Sprintf("no enabled %s trigger has source %q", typ, source)}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// payloadArtifacts are the artifacts a webhook delivery brings: its
// payload's "artifacts" list, as Echo's webhook handler reads it. Other
// deliveries bring none.
func payloadArtifacts(typ string, payload map[string]any) []pipeline.Artifact {
	list, _ := payload["artifacts"].([]any)
	if typ != trigger.TypeWebhook || len(list) == 0 {
		return nil
	}
	var out []pipeline.Artifact
	for _, item := range list {
		if a, ok := item.(map[string]any); ok {
			out = append(out, a)
		}
	}
	return out
}

// expectedArtifactIDs are the expected artifacts a trigger binds (its
// expectedArtifactIds); a trigger that names none binds none but those
// with a prior or default artifact, as Orca resolves them.
func expectedArtifactIDs(fields map[string]any) []string {
	ids := []string{}
	list, _ := fields["expectedArtifactIds"].([]any)
	for _, v := range list {
		if id, ok := v.(string); ok {
			ids = append(ids, id)
		}
	}
	return ids
}
