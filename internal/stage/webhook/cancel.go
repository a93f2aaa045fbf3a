package webhook

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/sluice-cd/sluice/internal/stage"
)

// Cancel implements stage.Canceler: an execution canceled while the stage
// runs calls cancelEndpoint, as Orca's MonitorWebhookTask.onCancel does.
// A cancel call that fails is returned, and the engine records the stage
// TERMINAL rather than CANCELED. A stage whose webhook accepted the call
// and that has no cancelEndpoint returns a *stage.AppliedError: what the
// webhook started goes on.
func (w *Type) Cancel(ctx context.Context, t *stage.Task) error {
	var s Spec
	if err := stage.Decode(t.Context, &s); err != nil {
		return err
	}
	if strings.TrimSpace(s.CancelEndpoint.Value) != "" {
		resp, err := w.callCancel(ctx, &s)
		if err != nil {
			return err
		}
		if resp.code >= 400 {
			return fmt.Errorf("cancelEndpoint %s answered %d %s%s", strings.TrimSpace(s.CancelEndpoint.Value), resp.code, statusName(resp.code), bodyNote(resp))
		}
		return nil
	}
	prev, _ := t.Context["webhook"].(map[string]any)
	code, _ := prev["statusCodeValue"].(float64)
	if n, ok := prev["statusCodeValue"].(int); ok {
		code = float64(n)
	}
	if code >= 200 && code < 400 && !s.MonitorOnly.Value {
		return &stage.AppliedError{Change: fmt.Sprintf("the webhook %s %s accepted the call (%d) and the stage has no cancelEndpoint to stop what it started",
			method(s.Method, http.MethodPost), strings.TrimSpace(s.URL.Value), int(code))}
	}
	return nil
}

// callCancel sends the cancel request: cancelMethod (POST by default) to
// cancelEndpoint with cancelPayload and customHeaders.
func (w *Type) callCancel(ctx context.Context, s *Spec) (*response, error) {
	return w.client.do(ctx, call{
		method:  method(s.CancelMethod, http.MethodPost),
		url:     strings.TrimSpace(s.CancelEndpoint.Value),
		headers: s.CustomHeaders.Value,
		body:    s.CancelPayload.Value,
	})
}

// failed fails the task with msg and out as the stage's "webhook", after
// calling cancelEndpoint when the stage has one: Orca's WebhookStage
// cancels the webhook when the stage fails (onFailureStages), on a best
// effort, and so does Sluice; what the call answered is added to msg.
func (w *Type) failed(ctx context.Context, t *stage.Task, s *Spec, out map[string]any, msg string) stage.Result {
	if ep := strings.TrimSpace(s.CancelEndpoint.Value); ep != "" {
		resp, err := w.callCancel(ctx, s)
		switch {
		case err != nil:
			msg += fmt.Sprintf(" Calling cancelEndpoint %s failed: %v", ep, err)
		case resp.code >= 400:
			msg += fmt.Sprintf(" cancelEndpoint %s answered %d %s.", ep, resp.code, statusName(resp.code))
		default:
			msg += fmt.Sprintf(" Called cancelEndpoint %s: %d %s.", ep, resp.code, statusName(resp.code))
		}
	}
	return stage.Fail(msg).WithContext(map[string]any{"webhook": out})
}
