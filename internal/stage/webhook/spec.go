package webhook

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-cd/sluice/internal/stage"
)

// The values of statusUrlResolution (Orca's StatusUrlResolution).
const (
	ResolveGetMethod       = "getMethod"
	ResolveLocationHeader  = "locationHeader"
	ResolveWebhookResponse = "webhookResponse"
)

// methods are the HTTP methods Orca's HttpMethod names.
var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}

// Spec is the fields of a webhook stage, Orca's WebhookStage.StageData.
type Spec struct {
	URL                 stage.StringField  `json:"url" hint:"the URL to call, http:// or https://"`
	Method              stage.StringField  `json:"method" hint:"GET, POST (the default), PUT, PATCH, DELETE, HEAD or OPTIONS"`
	CustomHeaders       HeadersField       `json:"customHeaders"`
	Payload             stage.JSONField    `json:"payload"`
	FailFastStatusCodes CodesField         `json:"failFastStatusCodes"`
	WaitForCompletion   stage.BoolField    `json:"waitForCompletion"`
	StatusURLResolution stage.StringField  `json:"statusUrlResolution" hint:"getMethod, locationHeader or webhookResponse"`
	StatusURLJSONPath   stage.StringField  `json:"statusUrlJsonPath" hint:"a JSONPath into the response, e.g. $.links.status"`
	MonitorOnly         stage.BoolField    `json:"monitorOnly"`
	StatusEndpoint      stage.StringField  `json:"statusEndpoint"`
	StatusJSONPath      stage.StringField  `json:"statusJsonPath" hint:"a JSONPath into the status response, e.g. $.status"`
	ProgressJSONPath    stage.StringField  `json:"progressJsonPath" hint:"a JSONPath into the status response, e.g. $.message"`
	SuccessStatuses     stage.StringsField `json:"successStatuses"`
	CanceledStatuses    stage.StringsField `json:"canceledStatuses"`
	TerminalStatuses    stage.StringsField `json:"terminalStatuses"`
	RetryStatusCodes    CodesField         `json:"retryStatusCodes"`
	WebhookRetryCodes   CodesField         `json:"webhookRetryStatusCodes"`
	Retries             RetriesField       `json:"retries"`
	WaitBeforeMonitor   stage.IntField     `json:"waitBeforeMonitor" hint:"seconds to wait between the call and the first status check"`
	CancelEndpoint      stage.StringField  `json:"cancelEndpoint" hint:"the URL to call when the stage is canceled or fails"`
	CancelMethod        stage.StringField  `json:"cancelMethod" hint:"GET, POST (the default), PUT, PATCH, DELETE"`
	CancelPayload       stage.JSONField    `json:"cancelPayload"`
	SignalCancellation  stage.BoolField    `json:"signalCancellation"`
	// IdempotencyKey is Sluice's: send an Idempotency-Key header with
	// the call (IdempotencyHeader).
	IdempotencyKey stage.BoolField `json:"idempotencyKey"`
}

// Check implements stage.Spec: what Orca's WebhookStage and its tasks
// require, found when the pipeline is saved rather than when the stage
// runs.
func (s *Spec) Check(c *stage.Checker) {
	if s.MonitorOnly.Value && s.WaitForCompletion.Set() && !s.WaitForCompletion.Value {
		c.Errorf(&s.MonitorOnly, "cannot be true while waitForCompletion is false: a monitor-only stage waits for the status; set waitForCompletion to true")
	}
	switch {
	case s.MonitorOnly.Value:
		if s.URL.Missing() && s.StatusEndpoint.Missing() {
			c.Errorf(&s.URL, "is required (or statusEndpoint): the URL whose status a monitorOnly stage polls")
		}
	default:
		c.Required(&s.URL)
	}
	checkURL(c, &s.URL)
	checkURL(c, &s.StatusEndpoint)
	checkURL(c, &s.CancelEndpoint)
	checkMethod(c, &s.Method)
	checkMethod(c, &s.CancelMethod)
	if s.WaitForCompletion.Value && !s.MonitorOnly.Value {
		if s.StatusURLResolution.Missing() || s.StatusURLResolution.Set() && s.StatusURLResolution.Value == "" {
			c.Errorf(&s.StatusURLResolution, "is required when waitForCompletion is true: getMethod (poll url), locationHeader (poll the response's Location) or webhookResponse (poll the URL at statusUrlJsonPath in the response)")
		}
		c.OneOf(&s.StatusURLResolution, ResolveGetMethod, ResolveLocationHeader, ResolveWebhookResponse)
		if s.StatusURLResolution.Value == ResolveWebhookResponse {
			c.Required(&s.StatusURLJSONPath)
		}
	}
	checkPath(c, &s.StatusURLJSONPath)
	checkPath(c, &s.StatusJSONPath)
	checkPath(c, &s.ProgressJSONPath)
	c.Range(&s.WaitBeforeMonitor, 0, 7*24*3600)
}

func checkURL(c *stage.Checker, f *stage.StringField) {
	if !f.Set() || strings.TrimSpace(f.Value) == "" {
		return
	}
	u, err := url.Parse(strings.TrimSpace(f.Value))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.Errorf(f, "%q must be an http:// or https:// URL", f.Value)
	}
}

func checkMethod(c *stage.Checker, f *stage.StringField) {
	if f.Set() && f.Value != "" && !slices.Contains(methods, strings.ToUpper(f.Value)) {
		c.Errorf(f, "must be one of %s, not %q", strings.Join(methods, ", "), f.Value)
	}
}

func checkPath(c *stage.Checker, f *stage.StringField) {
	if !f.Set() || f.Value == "" {
		return
	}
	if _, err := compilePath(f.Value); err != nil {
		c.Errorf(f, "is not a JSONPath: %v", err)
	}
}

// method is f's method in upper case, or def.
func method(f stage.StringField, def string) string {
	if f.Set() && strings.TrimSpace(f.Value) != "" {
		return strings.ToUpper(strings.TrimSpace(f.Value))
	}
	return def
}

// failFast is failFastStatusCodes, or Orca's default: 504.
func (s *Spec) failFast() []int {
	if s.FailFastStatusCodes.Present() {
		return s.FailFastStatusCodes.Value
	}
	return []int{http.StatusGatewayTimeout}
}

// deniedHeaders are the headers Orca drops from customHeaders: they would
// let a pipeline speak as Spinnaker to a service that trusts it.
var deniedHeaders = []string{"X-SPINNAKER-USER", "X-SPINNAKER-ACCOUNT", "X-SPINNAKER-USER-ORIGIN",
	"X-SPINNAKER-REQUEST-ID", "X-SPINNAKER-EXECUTION-ID"}

// HeadersField is customHeaders: names to a value (a string or a number)
// or to a list of values, each sent as one header line.
type HeadersField struct {
	stage.Field
	Value http.Header
}

func (h *HeadersField) DecodeField(v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("must be an object of header names to values, not %s", stage.JSONKind(v))
	}
	h.Value = http.Header{}
	var errs stage.FieldErrors
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !validHeaderName(k) {
			errs = append(errs, stage.FieldError{Field: k, Msg: "is not a valid header name"})
			continue
		}
		if slices.Contains(deniedHeaders, strings.ToUpper(k)) {
			continue
		}
		var vals []any
		list := false
		switch x := m[k].(type) {
		case []any:
			vals, list = x, true
		case nil:
			continue
		default:
			vals = []any{x}
		}
		for i, e := range vals {
			s, err := headerValue(e)
			if err != nil {
				path := k
				if list {
					path = fmt.Sprintf("%s[%d]", k, i)
				}
				errs = append(errs, stage.FieldError{Field: path, Msg: err.Error()})
				continue
			}
			h.Value[k] = append(h.Value[k], s)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func headerValue(v any) (string, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case bool:
		s = strconv.FormatBool(x)
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	default:
		return "", fmt.Errorf("must be a string, not %s", stage.JSONKind(v))
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return "", fmt.Errorf("must not contain a line break or NUL")
	}
	return s, nil
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) {
			return false
		}
	}
	return true
}

// CodesField is a list of HTTP status codes: numbers, numeric strings, or
// one string of them separated by commas ("429, 503").
type CodesField struct {
	stage.Field
	Value []int
}

func (f *CodesField) DecodeField(v any) error {
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	case string:
		for p := range strings.SplitSeq(x, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
	default:
		items = []any{v}
	}
	f.Value = []int{}
	var errs stage.FieldErrors
	for i, e := range items {
		var n stage.IntField
		err := n.DecodeField(e)
		if err == nil && (n.Value < 100 || n.Value > 599) {
			err = fmt.Errorf("must be an HTTP status code from 100 to 599, not %d", n.Value)
		}
		if err != nil {
			errs = append(errs, stage.FieldError{Field: fmt.Sprintf("[%d]", i), Msg: err.Error()})
			continue
		}
		f.Value = append(f.Value, int(n.Value))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// RetriesField is Orca's retries: status codes to {maxAttempts}, how many
// times monitorWebhook tries again on that code before it fails.
type RetriesField struct {
	stage.Field
	Value map[int]int
}

func (f *RetriesField) DecodeField(v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf(`must be an object of status codes to {"maxAttempts": n}, not %s`, stage.JSONKind(v))
	}
	f.Value = map[int]int{}
	var errs stage.FieldErrors
	for _, k := range slices.Sorted(maps.Keys(m)) {
		code, err := strconv.Atoi(strings.TrimSpace(k))
		if err != nil || code < 100 || code > 599 {
			errs = append(errs, stage.FieldError{Field: k, Msg: "is not an HTTP status code from 100 to 599"})
			continue
		}
		entry, ok := m[k].(map[string]any)
		if !ok {
			errs = append(errs, stage.FieldError{Field: k, Msg: `must be {"maxAttempts": n}, not ` + stage.JSONKind(m[k])})
			continue
		}
		var n stage.IntField
		if raw, ok := entry["maxAttempts"]; ok && raw != nil {
			if err := n.DecodeField(raw); err != nil {
				errs = append(errs, stage.FieldError{Field: k + ".maxAttempts", Msg: err.Error()})
				continue
			}
		}
		f.Value[code] = int(n.Value)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}
