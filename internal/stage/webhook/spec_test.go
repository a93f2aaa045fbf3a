package webhook_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/stage/webhook"
)

// TestValidate: what is wrong with a webhook stage is found when the
// pipeline is saved, at the field's path.
func TestValidate(t *testing.T) {
	t.Parallel()
	typ := webhook.Loopback()
	tests := []struct {
		name   string
		fields map[string]any
		field  string // "" for valid
		want   string
	}{
		{"minimal", map[string]any{"url": "http://localhost/x"}, "", ""},
		{"whole", map[string]any{"url": "https://ci.example.com/x", "method": "patch", "customHeaders": map[string]any{"A": "1", "B": []any{"x", 2}},
			"payload": map[string]any{"a": []any{1}}, "failFastStatusCodes": []any{"504", 409}, "waitForCompletion": "true",
			"statusUrlResolution": "webhookResponse", "statusUrlJsonPath": "$.links[0].href", "statusJsonPath": "status",
			"progressJsonPath": "$['msg']", "successStatuses": "OK,DONE", "canceledStatuses": []any{"X"}, "terminalStatuses": "",
			"retryStatusCodes": "404, 409", "retries": map[string]any{"404": map[string]any{"maxAttempts": "3"}}, "waitBeforeMonitor": 30,
			"cancelEndpoint": "https://ci.example.com/cancel", "cancelMethod": "DELETE", "cancelPayload": "stop", "signalCancellation": true}, "", ""},
		{"expressions", map[string]any{"url": "${parameters.url}", "waitForCompletion": "${true}", "statusUrlResolution": "getMethod",
			"customHeaders": map[string]any{"Authorization": "Bearer ${parameters.token}"}}, "", ""},
		{"monitorOnly", map[string]any{"monitorOnly": true, "waitForCompletion": true, "statusEndpoint": "http://localhost/s"}, "", ""},
		{"no url", map[string]any{}, "url", "is required"},
		{"not http", map[string]any{"url": "file:///etc/passwd"}, "url", "http:// or https://"},
		{"method", map[string]any{"url": "http://localhost", "method": "FETCH"}, "method", "must be one of"},
		{"cancelMethod", map[string]any{"url": "http://localhost", "cancelMethod": 3}, "cancelMethod", "string"},
		{"no resolution", map[string]any{"url": "http://localhost", "waitForCompletion": true}, "statusUrlResolution", "is required"},
		{"bad resolution", map[string]any{"url": "http://localhost", "waitForCompletion": true, "statusUrlResolution": "header"}, "statusUrlResolution", "must be one of"},
		{"no statusUrlJsonPath", map[string]any{"url": "http://localhost", "waitForCompletion": true, "statusUrlResolution": "webhookResponse"}, "statusUrlJsonPath", "is required"},
		{"bad path", map[string]any{"url": "http://localhost", "statusJsonPath": "$.a[?"}, "statusJsonPath", "not a JSONPath"},
		{"bad code", map[string]any{"url": "http://localhost", "failFastStatusCodes": []any{504, 42}}, "failFastStatusCodes[1]", "100 to 599"},
		{"bad retries", map[string]any{"url": "http://localhost", "retries": map[string]any{"abc": map[string]any{"maxAttempts": 1}}}, "retries.abc", "status code"},
		{"bad maxAttempts", map[string]any{"url": "http://localhost", "retries": map[string]any{"500": map[string]any{"maxAttempts": "many"}}}, "retries.500.maxAttempts", "number"},
		{"header value", map[string]any{"url": "http://localhost", "customHeaders": map[string]any{"X": map[string]any{}}}, "customHeaders.X", "must be a string"},
		{"header injection", map[string]any{"url": "http://localhost", "customHeaders": map[string]any{"X": "a\r\nHost: evil"}}, "customHeaders.X", "line break"},
		{"header name", map[string]any{"url": "http://localhost", "customHeaders": map[string]any{"Bad Name": "x"}}, "customHeaders.Bad Name", "not a valid header name"},
		{"negative wait", map[string]any{"url": "http://localhost", "waitBeforeMonitor": -1}, "waitBeforeMonitor", "at least 0"},
		{"monitorOnly without wait", map[string]any{"monitorOnly": true, "waitForCompletion": false, "url": "http://localhost"}, "monitorOnly", "waitForCompletion"},
		{"monitorOnly without url", map[string]any{"monitorOnly": true, "waitForCompletion": true}, "url", "statusEndpoint"},
	}
	for _, tt := range tests {
		errs := typ.Validate(tt.fields)
		if tt.field == "" {
			if len(errs) > 0 {
				t.Errorf("%s: %v, want valid", tt.name, errs)
			}
			continue
		}
		found := false
		for _, e := range errs {
			if e.Field == tt.field && strings.Contains(e.Msg, tt.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: %v, want %s: …%s…", tt.name, errs, tt.field, tt.want)
		}
	}
}

// TestTasks: Orca's task graph, by the stage's fields.
func TestTasks(t *testing.T) {
	t.Parallel()
	typ := webhook.Loopback()
	for _, tt := range []struct {
		fields map[string]any
		want   string
	}{
		{map[string]any{"url": "http://localhost"}, "createWebhook"},
		{map[string]any{"url": "http://localhost", "waitForCompletion": true}, "createWebhook monitorWebhook"},
		{map[string]any{"url": "http://localhost", "waitForCompletion": true, "waitBeforeMonitor": "5"}, "createWebhook waitBeforeMonitorWebhook monitorWebhook"},
		{map[string]any{"url": "http://localhost", "waitForCompletion": true, "monitorOnly": true}, "monitorWebhook"},
	} {
		if got := strings.Join(typ.Tasks(tt.fields), " "); got != tt.want {
			t.Errorf("Tasks(%v) = %s, want %s", tt.fields, got, tt.want)
		}
	}
}

// FuzzFields: any stage object is validated, and decoded into the stage's
// task list, without panicking, within a time bound, the same way twice;
// every problem names a field.
func FuzzFields(f *testing.F) {
	for _, seed := range []string{
		`{"url":"http://localhost/x","method":"post","customHeaders":{"A":"1","B":["x",2]},"payload":{"a":1}}`,
		`{"url":"http://localhost","waitForCompletion":true,"statusUrlResolution":"webhookResponse","statusUrlJsonPath":"$..a[?@.b>1]","statusJsonPath":"$.s","progressJsonPath":"m"}`,
		`{"url":"http://localhost","failFastStatusCodes":"504, 409","retryStatusCodes":[404,"500"],"retries":{"404":{"maxAttempts":"2"}},"waitBeforeMonitor":"3"}`,
		`{"monitorOnly":"true","waitForCompletion":false,"statusEndpoint":"https://x","cancelEndpoint":"ftp://y","cancelMethod":"TRACE","successStatuses":["A",""]}`,
		`{"customHeaders":{"":"x","X":"a\r\nb"},"retries":{"600":{}},"failFastStatusCodes":[1e300]}`,
	} {
		f.Add([]byte(seed))
	}
	typ := webhook.Loopback()
	f.Fuzz(func(t *testing.T, data []byte) {
		var fields map[string]any
		if json.Unmarshal(data, &fields) != nil || fields == nil {
			return
		}
		start := time.Now()
		errs := typ.Validate(fields)
		tasks := typ.Tasks(fields)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Validate and Tasks took %s on %s", d, data)
		}
		if len(tasks) == 0 {
			t.Fatalf("no tasks for %s", data)
		}
		for _, e := range errs {
			if e.Field == "" || e.Msg == "" {
				t.Fatalf("problem without a field or message: %+v", e)
			}
		}
		if again := typ.Validate(fields); len(again) != len(errs) {
			t.Fatalf("Validate is not deterministic: %v then %v", errs, again)
		}
	})
}
