package web_test

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestCanaryConfigPages lists a saved canary config and shows it with its
// revisions and the changes between two of them, by field.
func TestCanaryConfigPages(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	ctx := t.Context()
	doc, err := os.ReadFile("../../examples/canary-configs/lambda-errors-latency.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.PutCanaryConfig(ctx, "lambda-errors-latency", doc); err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(doc, []byte(`"allowedIncrease": 1.5}`), []byte(`"allowedIncrease": 1.6}`), 1)
	if _, err := s.client.PutCanaryConfig(ctx, "lambda-errors-latency", changed); err != nil {
		t.Fatal(err)
	}

	status, body := s.get(t, "/canary-configs")
	if status != http.StatusOK {
		t.Fatalf("GET /canary-configs = %d", status)
	}
	contains(t, body, `href="/canary-configs/lambda-errors-latency"`, "<td>demo</td>", "<td>2</td>")

	status, body = s.get(t, "/canary-configs/lambda-errors-latency")
	if status != http.StatusOK {
		t.Fatalf("GET canary config = %d", status)
	}
	contains(t, body, "Revision 2 saved by", `&#34;allowedIncrease&#34;: 1.6`,
		`<option value="1" selected>revision 1</option>`, `<option value="2" selected>revision 2</option>`)
	if strings.Contains(body, `id="diff"`) {
		t.Error("the page shows a diff nobody asked for")
	}

	_, body = s.get(t, "/canary-configs/lambda-errors-latency?from=1&to=2")
	contains(t, body, `id="diff"`, "metrics[1].analysisConfigurations.canary.effectSize.allowedIncrease: 1.5 → 1.6")
	_, body = s.get(t, "/canary-configs/lambda-errors-latency?from=2&to=2")
	contains(t, body, "The two revisions are the same.")

	if status, _ := s.get(t, "/canary-configs/lambda-errors-latency?from=x"); status != http.StatusBadRequest {
		t.Errorf("GET with from=x = %d, want 400", status)
	}
	if status, _ := s.get(t, "/canary-configs/missing"); status != http.StatusNotFound {
		t.Errorf("GET a missing config = %d, want 404", status)
	}
}
