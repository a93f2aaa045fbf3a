package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/httpapi"
)

// TestBodyLimitsMatchTheDocument holds openapi.json's body limits against
// the server: every operation that takes a body states its limit as
// x-sluice-max-body-bytes, a body of exactly that size is not refused as
// too large, and one byte more is refused with 413.
func TestBodyLimitsMatchTheDocument(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(httpapi.OpenAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	_, b := setupEngine(t, nil)
	// Path parameters name things that need not exist: the body is read,
	// and refused, before anything is looked up. (The token is an admin's:
	// credentials are checked first of all.)
	fill := strings.NewReplacer("{app}", "demo", "{name}", "hello", "{id}", "01J0000000000000000000000", "{stage}", "1")
	checked := 0
	for path, item := range doc.Paths {
		for method, raw := range item {
			if method != "post" && method != "put" {
				continue
			}
			var op struct {
				Limit int64 `json:"x-sluice-max-body-bytes"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatal(err)
			}
			name := strings.ToUpper(method) + " " + path
			if op.Limit <= 0 {
				t.Errorf("%s reads a body but states no x-sluice-max-body-bytes", name)
				continue
			}
			checked++
			url := b.server.URL + fill.Replace(path)
			// "{}" padded with blanks is a valid JSON body of any size.
			body := func(n int64) []byte { return append([]byte("{}"), bytes.Repeat([]byte(" "), int(n-2))...) }
			if got := post(t, strings.ToUpper(method), url, b.token, body(op.Limit)); got == http.StatusRequestEntityTooLarge {
				t.Errorf("%s: a body of %d bytes, its stated limit, got 413", name, op.Limit)
			}
			if got := post(t, strings.ToUpper(method), url, b.token, body(op.Limit+1)); got != http.StatusRequestEntityTooLarge {
				t.Errorf("%s: a body of %d bytes, one more than its stated limit, got %d, want 413", name, op.Limit+1, got)
			}
		}
	}
	if checked < 10 {
		t.Errorf("checked %d operations; the document has more that take a body", checked)
	}
}

func post(t *testing.T, method, url, token string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
