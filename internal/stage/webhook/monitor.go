package webhook

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/sluice-cd/sluice/internal/egress"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
)

// monitor is Orca's MonitorWebhookTask: GET the status URL, read the
// status at statusJsonPath and map it with successStatuses,
// canceledStatuses and terminalStatuses; a number is a percentage, done
// at 100. Each poll is one run of the task, snoozed in between.
func (w *Type) monitor(ctx context.Context, t *stage.Task, s *Spec) (stage.Result, error) {
	endpoint := strings.TrimSpace(stageString(t.Context, "statusEndpoint"))
	if endpoint == "" {
		endpoint = strings.TrimSpace(s.StatusEndpoint.Value)
	}
	if endpoint == "" && s.MonitorOnly.Value {
		endpoint = strings.TrimSpace(s.URL.Value)
	}
	if endpoint == "" {
		return stage.Fail("Missing required parameter: statusEndpoint: createWebhook resolved no status URL; set statusUrlResolution"), nil
	}
	// Keep what createWebhook wrote; monitor is written afresh.
	out := map[string]any{}
	var oldMonitor map[string]any
	if prev, ok := t.Context["webhook"].(map[string]any); ok {
		for k, v := range prev {
			out[k] = v
		}
		oldMonitor, _ = prev["monitor"].(map[string]any)
	}
	mon := map[string]any{}
	out["monitor"] = mon
	past := pastStatusCodes(oldMonitor)
	if len(past) > 0 {
		mon["pastStatusCodes"] = past
	}
	result := func(r stage.Result) (stage.Result, error) {
		return r.WithContext(map[string]any{"webhook": out}), nil
	}
	if _, set := t.Context["stageTimeoutMs"]; !set && t.Now.Sub(t.TaskStartTime) >= monitorTimeout {
		mon["error"] = fmt.Sprintf("monitorWebhook polled %s for %s without a final status", endpoint, monitorTimeout)
		return result(w.failed(ctx, t, s, out, mon["error"].(string)+"; set stageTimeoutMs on the stage to wait longer"))
	}
	again := w.pollAgain(t)

	resp, err := w.client.do(ctx, call{method: http.MethodGet, url: endpoint, headers: s.CustomHeaders.Value})
	if err != nil {
		if ctx.Err() != nil {
			return stage.Result{}, err
		}
		var dns *net.DNSError
		switch {
		case egress.Refused(err) != nil:
			mon["error"] = err.Error()
			return result(w.failed(ctx, t, s, out, err.Error()))
		case errors.As(err, &dns), errors.Is(err, errTimeout):
			return result(again) // Orca: name resolution failures and socket timeouts are tried again
		}
		mon["error"] = fmt.Sprintf("an exception occurred in webhook monitor to %s: %v", endpoint, err)
		return result(w.failed(ctx, t, s, out, mon["error"].(string)))
	}
	if resp.code >= 400 {
		if shouldRetry(resp.code, s, past) {
			mon["pastStatusCodes"] = append(past, resp.code)
			return result(again)
		}
		mon["error"] = fmt.Sprintf("an exception occurred in webhook monitor to %s: %d %s", endpoint, resp.code, statusName(resp.code))
		if len(resp.headers) > 0 {
			mon["headers"] = resp.headers
		}
		return result(w.failed(ctx, t, s, out, mon["error"].(string)+bodyNote(resp)))
	}
	mon["body"] = resp.body
	mon["statusCode"] = statusName(resp.code)
	mon["statusCodeValue"] = resp.code
	if len(resp.headers) > 0 {
		mon["headers"] = resp.headers
	}
	if strings.TrimSpace(s.StatusJSONPath.Value) == "" {
		return result(stage.Succeed())
	}
	statusPath, err := compilePath(s.StatusJSONPath.Value)
	if err != nil {
		return result(stage.Failf("statusJsonPath %q is not a JSONPath: %v", s.StatusJSONPath.Value, err))
	}
	value, found := readPath(statusPath, resp.body)
	if !found {
		mon["error"] = fmt.Sprintf("Unable to parse status: JSON property '%s' not found in response body", s.StatusJSONPath.Value)
		return result(w.failed(ctx, t, s, out, mon["error"].(string)+bodyNote(resp)))
	}
	switch value.(type) {
	case string, float64, bool, json.Number:
	default:
		mon["error"] = fmt.Sprintf("The json path '%s' did not resolve to a single value", s.StatusJSONPath.Value)
		mon["resolvedValue"] = value
		return result(w.failed(ctx, t, s, out, mon["error"].(string)))
	}
	var progress []string
	if p := strings.TrimSpace(s.ProgressJSONPath.Value); p != "" {
		progressPath, err := compilePath(p)
		if err != nil {
			return result(stage.Failf("progressJsonPath %q is not a JSONPath: %v", p, err))
		}
		pv, found := readPath(progressPath, resp.body)
		if !found {
			mon["error"] = fmt.Sprintf("Unable to parse progress: JSON property '%s' not found in response body", p)
			return result(w.failed(ctx, t, s, out, mon["error"].(string)))
		}
		msg, ok := pv.(string)
		if !ok {
			mon["error"] = fmt.Sprintf("The json path '%s' did not resolve to a String value", p)
			mon["resolvedValue"] = pv
			return result(w.failed(ctx, t, s, out, mon["error"].(string)))
		}
		mon["progressMessage"] = msg
		progress = append(progress, msg)
	}
	if n, ok := value.(float64); ok {
		mon["percentComplete"] = n
		progress = append(progress, fmt.Sprintf("%v%% complete", n))
		r := again
		if n == 100 {
			r = stage.Succeed()
		}
		return result(withProgress(r, t, progress))
	}
	text := strings.ToUpper(fmt.Sprint(value))
	switch statusOf(s, text) {
	case status.Succeeded:
		return result(withProgress(stage.Succeed(), t, progress))
	case status.Canceled:
		return result(stage.Result{Status: status.Canceled})
	case status.Terminal:
		msg := fmt.Sprintf("the webhook's status at %s is %s, one of terminalStatuses", endpoint, text)
		return result(w.failed(ctx, t, s, out, msg))
	}
	return result(withProgress(again, t, append(progress, "status "+text)))
}

// pollAgain runs monitorWebhook again after Orca's backoff: a second, or
// fifteen once the task has run a minute.
func (w *Type) pollAgain(t *stage.Task) stage.Result {
	d := cmp.Or(w.opts.MonitorBackoff, defaultMonitorBackoff)
	if t.Now.Sub(t.TaskStartTime) > slowAfter {
		d = max(d, slowMonitorBackoff)
	}
	return stage.RetryAfter(d)
}

// withProgress tells followers what the status says, when it changed.
func withProgress(r stage.Result, t *stage.Task, parts []string) stage.Result {
	if len(parts) == 0 {
		return r
	}
	msg := strings.Join(parts, ": ")
	if t.Context[stage.ProgressKey] == msg {
		return r
	}
	return r.WithContext(map[string]any{stage.ProgressKey: msg})
}

// statusOf maps a status text as Orca's createStatusMap: terminal over
// canceled over success; anything else is still running.
func statusOf(s *Spec, text string) status.Status {
	in := func(list []string) bool {
		for _, v := range list {
			if strings.ToUpper(strings.TrimSpace(v)) == text {
				return true
			}
		}
		return false
	}
	switch {
	case in(s.TerminalStatuses.Value):
		return status.Terminal
	case in(s.CanceledStatuses.Value):
		return status.Canceled
	case in(s.SuccessStatuses.Value):
		return status.Succeeded
	}
	return status.Running
}

// shouldRetry is Orca's: a code with a retries entry is tried again until
// maxAttempts of it have been seen; otherwise a 5xx, a 429 or one of
// retryStatusCodes is tried again.
func shouldRetry(code int, s *Spec, past []int) bool {
	if limit, ok := s.Retries.Value[code]; ok {
		seen := 0
		for _, c := range past {
			if c == code {
				seen++
			}
		}
		return seen < limit
	}
	if code >= 500 || code == http.StatusTooManyRequests {
		return true
	}
	for _, c := range s.RetryStatusCodes.Value {
		if c == code {
			return true
		}
	}
	return false
}

func pastStatusCodes(monitor map[string]any) []int {
	if codes, ok := monitor["pastStatusCodes"].([]int); ok {
		return codes
	}
	list, _ := monitor["pastStatusCodes"].([]any)
	var out []int
	for _, v := range list {
		if n, ok := v.(float64); ok {
			out = append(out, int(n))
		}
	}
	return out
}

func stageString(ctx map[string]any, key string) string {
	s, _ := ctx[key].(string)
	return s
}

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
