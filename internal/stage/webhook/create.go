package webhook

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/sluice-cd/sluice/internal/egress"
	"github.com/sluice-cd/sluice/internal/stage"
)

// IdempotencyHeader is sent with the call of createWebhook when the stage
// sets Sluice's idempotencyKey: the same on every run of the task for one
// run of the stage, so that a receiver can recognize the call made again
// after a crash (the IETF's Idempotency-Key header). It is opt-in because
// a receiver that honours it answers a retry with its first answer, a 5xx
// included, where Orca would call afresh. customHeaders may set it
// instead.
const IdempotencyHeader = "Idempotency-Key"

// create is Orca's CreateWebhookTask with its WebhookResponseProcessor:
// call the webhook, keep the response under "webhook", and, when the
// stage waits for completion, resolve the URL to poll.
func (w *Type) create(ctx context.Context, t *stage.Task, s *Spec) (stage.Result, error) {
	if s.MonitorOnly.Value {
		return stage.Fail("monitorOnly cannot be true while waitForCompletion is false: set waitForCompletion to true"), nil
	}
	target := strings.TrimSpace(s.URL.Value)
	headers := s.CustomHeaders.Value.Clone()
	if headers == nil {
		headers = http.Header{}
	}
	if s.IdempotencyKey.Value && headers.Get(IdempotencyHeader) == "" {
		headers.Set(IdempotencyHeader, idempotencyKey(t))
	}
	m := method(s.Method, http.MethodPost)
	resp, err := w.client.do(ctx, call{method: m, url: target, headers: headers, body: s.Payload.Value})
	out := map[string]any{}
	if err != nil {
		if ctx.Err() != nil {
			return stage.Result{}, err // the engine is stopping: the task runs again
		}
		return w.createError(ctx, t, s, out, m, target, err), nil
	}
	recordResponse(out, resp)
	if resp.code >= 400 {
		return w.createStatus(ctx, t, s, out, resp), nil
	}
	if !s.WaitForCompletion.Value {
		return stage.Succeed().WithContext(map[string]any{"webhook": out}), nil
	}
	statusURL, err := statusCheckURL(s, target, resp)
	switch {
	case err != nil:
		out["error"] = "Exception while resolving status check URL: " + err.Error()
		return w.failed(ctx, t, s, out, out["error"].(string)), nil
	case statusURL == "":
		out["error"] = "The status URL couldn't be resolved, but 'Wait for completion' is configured"
		return w.failed(ctx, t, s, out, out["error"].(string)+statusURLHint(s)), nil
	}
	out["statusEndpoint"] = statusURL
	return stage.Succeed().WithContext(map[string]any{"webhook": out, "statusEndpoint": statusURL}), nil
}

// idempotencyKey names this run of the stage: its execution, its stage
// and when it started, so a restarted stage calls with a new key.
func idempotencyKey(t *stage.Task) string {
	return fmt.Sprintf("%s-%s-%d", t.ExecutionID, t.StageID, t.StartTime.UnixNano())
}

// createError is Orca's processClientException: a name that does not
// resolve, or a GET that timed out, is tried again; anything else fails.
// A refusal by the allow-list fails at once.
func (w *Type) createError(ctx context.Context, t *stage.Task, s *Spec, out map[string]any, m, target string, err error) stage.Result {
	var dns *net.DNSError
	switch {
	case egress.Refused(err) != nil:
		out["error"] = err.Error()
		return w.failed(ctx, t, s, out, err.Error())
	case errors.As(err, &dns):
		out["error"] = fmt.Sprintf("Remote host resolution failure in webhook for pipeline %s to %s, will retry.", t.ExecutionID, target)
		return w.retryCreate(ctx, t, s, out)
	case m == http.MethodGet && errors.Is(err, errTimeout):
		out["error"] = fmt.Sprintf("Socket timeout in webhook on GET request for pipeline %s to %s, will retry.", t.ExecutionID, target)
		return w.retryCreate(ctx, t, s, out)
	}
	out["error"] = fmt.Sprintf("An exception occurred for pipeline %s performing a request to %s. %v", t.ExecutionID, target, err)
	return w.failed(ctx, t, s, out, out["error"].(string))
}

// createStatus is Orca's processReceivedFailureStatusCode: a status in
// failFastStatusCodes (504 by default) fails at once; a 5xx, a 429 or one
// of webhookRetryStatusCodes is tried again; any other fails.
func (w *Type) createStatus(ctx context.Context, t *stage.Task, s *Spec, out map[string]any, resp *response) stage.Result {
	code := resp.code
	target := strings.TrimSpace(s.URL.Value)
	switch {
	case slices.Contains(s.failFast(), code):
		out["error"] = fmt.Sprintf("Received status code %d, which is configured to fail fast, terminating stage for pipeline %s to %s", code, t.ExecutionID, target)
		return w.failed(ctx, t, s, out, out["error"].(string)+bodyNote(resp))
	case code >= 500 || code == http.StatusTooManyRequests || slices.Contains(s.WebhookRetryCodes.Value, code):
		out["error"] = fmt.Sprintf("Error submitting webhook for pipeline %s to %s with status code %d, will retry.", t.ExecutionID, target, code)
		return w.retryCreate(ctx, t, s, out)
	}
	out["error"] = fmt.Sprintf("Error submitting webhook for pipeline %s to %s with status code %d.", t.ExecutionID, target, code)
	return w.failed(ctx, t, s, out, out["error"].(string)+bodyNote(resp))
}

// retryCreate runs createWebhook again after the backoff, until Orca's
// five minutes of the task have passed.
func (w *Type) retryCreate(ctx context.Context, t *stage.Task, s *Spec, out map[string]any) stage.Result {
	if t.Now.Sub(t.TaskStartTime) >= createTimeout {
		msg := fmt.Sprintf("%s Gave up: createWebhook has tried for %s (Orca's limit for the task)", out["error"], createTimeout)
		return w.failed(ctx, t, s, out, msg)
	}
	return stage.RetryAfter(cmp.Or(w.opts.CreateBackoff, defaultCreateBackoff)).WithContext(map[string]any{"webhook": out})
}

// statusCheckURL is Orca's WebhookStatusCheckUrlRetriever.
func statusCheckURL(s *Spec, target string, resp *response) (string, error) {
	var found string
	switch s.StatusURLResolution.Value {
	case ResolveGetMethod:
		found = target
	case ResolveLocationHeader:
		found = resp.headers["Location"]
		if found != "" {
			// A relative Location is relative to the webhook's URL (RFC 9110).
			base, err1 := url.Parse(target)
			ref, err2 := url.Parse(found)
			if err1 == nil && err2 == nil {
				found = base.ResolveReference(ref).String()
			}
		}
	case ResolveWebhookResponse:
		p, err := compilePath(s.StatusURLJSONPath.Value)
		if err != nil {
			return "", fmt.Errorf("statusUrlJsonPath %q: %v", s.StatusURLJSONPath.Value, err)
		}
		v, ok := readPath(p, resp.body)
		if !ok {
			return "", fmt.Errorf("no results for path %s", p)
		}
		str, isString := v.(string)
		if !isString {
			return "", fmt.Errorf("statusUrlJsonPath %s resolved to %s, not a URL", p, stage.JSONKind(v))
		}
		found = str
	default:
		return "", fmt.Errorf("unexpected statusUrlResolution %q", s.StatusURLResolution.Value)
	}
	if found == "" || found == target {
		return found, nil
	}
	// Orca keeps the webhook's scheme for a status URL on the same host.
	su, err1 := url.Parse(found)
	wu, err2 := url.Parse(target)
	if err1 == nil && err2 == nil && su.Hostname() == wu.Hostname() && su.Scheme != wu.Scheme && su.Scheme != "" {
		su.Scheme = wu.Scheme
		found = su.String()
	}
	return found, nil
}

func statusURLHint(s *Spec) string {
	switch s.StatusURLResolution.Value {
	case ResolveLocationHeader:
		return ": the response has no Location header"
	case ResolveWebhookResponse:
		return fmt.Sprintf(": statusUrlJsonPath %s found an empty value in the response", s.StatusURLJSONPath.Value)
	}
	return ""
}

// recordResponse writes resp into out as Orca's WebhookResponseStageData.
func recordResponse(out map[string]any, resp *response) {
	out["statusCode"] = statusName(resp.code)
	out["statusCodeValue"] = resp.code
	if len(resp.headers) > 0 {
		out["headers"] = resp.headers
	}
	if resp.body != nil {
		out["body"] = resp.body
	}
}

// bodyNote quotes the start of a failed response's body, which usually
// says what was wrong.
func bodyNote(resp *response) string {
	if resp.body == nil {
		return ""
	}
	text := fmt.Sprint(resp.body)
	if b, ok := resp.body.(string); ok {
		text = b
	} else if raw, err := jsonText(resp.body); err == nil {
		text = raw
	}
	const limit = 300
	if len(text) > limit {
		text = text[:limit] + "…"
	}
	return " The response said: " + text
}
