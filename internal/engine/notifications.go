package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/egress"
	"github.com/sluice-cd/sluice/internal/expr"
	"github.com/sluice-cd/sluice/internal/notify"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// Notifier delivers one notification once (notify.Sender).
type Notifier interface {
	Send(ctx context.Context, m *notify.Message) error
}

// Defaults for the delivery of notifications.
const (
	// DefaultNotifyAttempts is how many times a notification is sent
	// before it is given up.
	DefaultNotifyAttempts = 8
	// DefaultNotifyBackoff is the wait before the second attempt; it
	// doubles with each attempt, up to maxNotifyBackoff.
	DefaultNotifyBackoff = 10 * time.Second
	maxNotifyBackoff     = 10 * time.Minute
)

// notifyArgs delivers one notification: the execution's delivery N,
// whose message was built when its event happened.
type notifyArgs struct {
	ExecutionID string          `json:"execution_id"`
	N           int             `json:"n"`
	Message     *notify.Message `json:"message"`
}

func (notifyArgs) Kind() string { return "sluice.notify" }

// notify records and enqueues, in the transition's transaction, the
// notifications that event (pipeline.*, stage.*, manualJudgment*) fires:
// the pipeline's for a pipeline event; for a stage event, the stage's
// when it sets sendNotifications (Orca's and Echo's rule). s is nil for
// a pipeline event.
func (r *run) notify(event string, s *stageRun) error {
	if r.t.e.notifier == nil || event == "" {
		return nil
	}
	var raw any
	level := pipeline.PipelineNotifications
	if s == nil {
		if len(r.doc.Notifications) == 0 {
			return nil
		}
		list := make([]any, len(r.doc.Notifications))
		for i, n := range r.doc.Notifications {
			list[i] = n
		}
		raw = list
		if strings.Contains(string(r.exec.Pipeline), "${") {
			raw, _ = expr.Resolve(r.t.ctx, raw, r.env(nil))
		}
	} else {
		if send, _ := s.context()["sendNotifications"].(bool); !send || s.def == nil {
			return nil
		}
		raw = s.context()["notifications"]
		level = pipeline.StageNotifications
		if s.row.Type == "manualJudgment" {
			level = pipeline.JudgmentNotifications
		}
	}
	// Validation rejected bad entries when the pipeline was saved; an
	// entry an expression made bad is left out.
	ns, _ := pipeline.ParseNotifications("notifications", raw, level)
	for _, n := range ns {
		if !n.Delivered() || !n.Fires(event) {
			continue
		}
		if err := r.enqueueNotification(event, s, n); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) enqueueNotification(event string, s *stageRun, n pipeline.Notification) error {
	i := len(r.state.Notifications)
	d := apitype.NotificationDelivery{
		ID: r.exec.ID + "/" + strconv.Itoa(i), Event: event, Type: n.Type, Address: egress.Redact(n.Address),
		Status: apitype.DeliveryPending, CreatedAt: ms(r.t.now),
	}
	if s != nil {
		d.StageRefID = s.row.RefID
	}
	r.state.Notifications = append(r.state.Notifications, d)
	r.dirty = true
	m := r.message(event, s, n)
	m.Delivery = d.ID
	return r.t.insertJob(notifyArgs{ExecutionID: r.exec.ID, N: i, Message: m},
		&river.InsertOpts{MaxAttempts: r.t.e.notifyAttempts})
}

// message builds the notification of event for n.
func (r *run) message(event string, s *stageRun, n pipeline.Notification) *notify.Message {
	m := &notify.Message{
		Event: event, Type: n.Type, Address: n.Address, CC: n.CC,
		Application: r.exec.Application, Pipeline: r.exec.PipelineName,
		Execution: notify.Execution{ID: r.exec.ID, Status: string(r.exec.Status), User: r.exec.User},
		Text:      n.Message[event],
		Time:      r.t.now,
	}
	if r.exec.StartTime != nil {
		m.Execution.StartTime = ms(*r.exec.StartTime)
	}
	if r.exec.EndTime != nil {
		m.Execution.EndTime = ms(*r.exec.EndTime)
	}
	if s == nil {
		return m
	}
	m.Stage = &notify.Stage{ID: s.row.ID, RefID: s.row.RefID, Name: s.row.Name, Type: s.row.Type, Status: string(s.row.Status)}
	if msg, _ := s.context()["error"].(string); msg != "" && s.row.Status.Complete() {
		m.Stage.Error = msg
	}
	if strings.HasPrefix(event, pipeline.EventManualJudgment) {
		str := func(k string) string { v, _ := s.context()[k].(string); return v }
		m.Judgment = &notify.Judgment{Instructions: str("instructions"), Status: str("judgmentStatus"),
			Input: str("judgmentInput"), User: str("lastModifiedBy")}
		m.Canary = r.canaryEvidence(s)
	}
	return m
}

// canaryEvidence is the verdict of the canary analysis nearest upstream
// of s: a kayentaCanary stage's canaryScore and canaryResult, or the last
// judged step of a $PROGRESSIVE shift. Nil when there is none.
func (r *run) canaryEvidence(s *stageRun) *notify.Canary {
	for _, a := range r.ancestors(s) {
		o := a.outs()
		if score, ok := number(o["canaryScore"]); ok || o["canaryResult"] != nil {
			c := &notify.Canary{Stage: a.row.Name}
			if ok {
				c.Score = &score
			}
			c.Result, _ = o["canaryResult"].(string)
			c.Message, _ = o["canaryScoreMessage"].(string)
			return c
		}
		ro, _ := o["rollout"].(map[string]any)
		hist, _ := ro["history"].([]any)
		for i := len(hist) - 1; i >= 0; i-- {
			step, _ := hist[i].(map[string]any)
			an, _ := step["analysis"].(map[string]any)
			dec, _ := an["decision"].(map[string]any)
			if dec == nil {
				continue
			}
			c := &notify.Canary{Stage: a.row.Name}
			if score, ok := number(dec["score"]); ok {
				c.Score = &score
			}
			c.Result, _ = dec["result"].(string)
			c.Message, _ = dec["reason"].(string)
			return c
		}
	}
	return nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
}

// pipelineEvent is the notification event of the execution's move to
// status to (Orca's EchoNotifyingExecutionListener): starting on its
// first start, complete or failed at its end. A canceled execution
// notifies nothing, as Echo drops it.
func pipelineEvent(from *time.Time, to status.Status) string {
	switch {
	case to == status.Running && from == nil:
		return pipeline.EventPipelineStarting
	case to == status.Succeeded, to == status.Stopped, to == status.Skipped:
		return pipeline.EventPipelineComplete
	case to == status.Terminal, to == status.FailedContinue:
		return pipeline.EventPipelineFailed
	}
	return ""
}

// stageEvents are the notification events of a stage's move to status
// to: starting when it starts, complete or failed when it ends (skipped
// and canceled stages notify nothing, as Echo drops them); a manual
// judgment stage also fires manualJudgment as it starts waiting and
// manualJudgmentContinue or manualJudgmentStop when judged.
func stageEvents(s *stageRun, started *time.Time, to status.Status) []string {
	var events []string
	switch {
	case to == status.Running && started == nil:
		events = append(events, pipeline.EventStageStarting)
	case to == status.Succeeded, to == status.Stopped:
		events = append(events, pipeline.EventStageComplete)
	case to == status.Terminal, to == status.FailedContinue:
		events = append(events, pipeline.EventStageFailed)
	}
	if s.row.Type != "manualJudgment" || len(events) == 0 {
		return events
	}
	decision, _ := s.context()["judgmentStatus"].(string)
	switch {
	case events[0] == pipeline.EventStageStarting:
		events = append(events, pipeline.EventManualJudgment)
	case decision == "continue" && to == status.Succeeded:
		events = append(events, pipeline.EventManualJudgmentContinue)
	case decision == "stop":
		events = append(events, pipeline.EventManualJudgmentStop)
	}
	return events
}

type notifyWorker struct {
	river.WorkerDefaults[notifyArgs]
	e *Engine
}

// NextRetry waits DefaultNotifyBackoff (Config.NotifyBackoff) after the
// first failure, doubling after each, up to ten minutes.
func (w *notifyWorker) NextRetry(job *river.Job[notifyArgs]) time.Time {
	d := w.e.notifyBackoff
	for i := 1; i < job.Attempt && d < maxNotifyBackoff; i++ {
		d *= 2
	}
	return time.Now().Add(min(d, maxNotifyBackoff))
}

// Work sends the notification and records the attempt on the execution.
// A delivery already recorded as sent (its job's completion was lost) is
// not sent again. A refusal that trying again will not fix ends the job;
// any other failure is retried with backoff until the attempts run out.
func (w *notifyWorker) Work(ctx context.Context, job *river.Job[notifyArgs]) error {
	a := job.Args
	exec, err := w.e.store.ExecutionGet(ctx, a.ExecutionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var st execState
	if err := unmarshalObject(exec.State, &st); err != nil {
		return fmt.Errorf("execution %s state: %w", exec.ID, err)
	}
	if a.N >= len(st.Notifications) || st.Notifications[a.N].Status == apitype.DeliverySucceeded || a.Message == nil {
		return nil
	}
	sendErr := w.e.notifier.Send(ctx, a.Message)
	if sendErr != nil && ctx.Err() != nil {
		return sendErr // the engine is stopping: not the receiver's fault
	}
	final := sendErr != nil && (notify.IsPermanent(sendErr) || job.Attempt >= job.MaxAttempts)
	err = w.e.change(ctx, a.ExecutionID, func(t *txn, r *run) error {
		if a.N >= len(r.state.Notifications) {
			return nil
		}
		d := &r.state.Notifications[a.N]
		d.Attempts++
		d.LastAttemptAt = ms(t.now)
		r.dirty = true
		switch {
		case sendErr == nil:
			d.Status, d.Error = apitype.DeliverySucceeded, ""
			return t.completeJob(job.JobRow)
		case final:
			d.Status, d.Error = apitype.DeliveryFailed, sendErr.Error()
		default:
			d.Status, d.Error = apitype.DeliveryRetrying, sendErr.Error()
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.e.metrics.notified(a.Message, sendErr, final)
	switch {
	case sendErr == nil:
		return nil
	case notify.IsPermanent(sendErr):
		w.e.log.WarnContext(ctx, "notification refused", "execution_id", a.ExecutionID, "delivery", a.Message.Delivery, "error", sendErr)
		return river.JobCancel(sendErr)
	}
	w.e.log.InfoContext(ctx, "notification failed", "execution_id", a.ExecutionID, "delivery", a.Message.Delivery,
		"attempt", job.Attempt, "final", final, "error", sendErr)
	return sendErr
}
