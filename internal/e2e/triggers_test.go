package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/postgres"
)

const clusterSecret = "cluster-secret-0123456789"

// clusterTriggers ticks every two seconds and takes webhooks from "ci".
const clusterTriggers = `{"application": "cluster", "name": "scheduled", "limitConcurrent": false,
  "triggers": [
    {"type": "cron", "id": "tick", "enabled": true, "cronExpression": "0/2 * * * * ?", "timeZone": "UTC"},
    {"type": "webhook", "id": "ci", "enabled": true, "source": "ci", "secretName": "ci"}],
  "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]}`

// TestClusterTriggersExactlyOnce runs two servers on one Postgres
// database with a cron trigger and a webhook trigger, and kills one with
// SIGKILL: every cron tick starts exactly one execution — before, across
// and after the kill — and a webhook delivery sent to both servers at once,
// and again after the kill, starts exactly one.
func TestClusterTriggersExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sluice binary")
	}
	dbURL := sluicetest.PostgresSchemaURL(t)
	bin := buildSluice(t)
	ctx := context.Background()
	st, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(cfg, []byte("triggers:\n  secrets:\n    ci: "+clusterSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := func(node string) []string {
		return []string{"--database-url", dbURL, "--node-id", node, "--lambda-addr", "off", "--config", cfg}
	}
	a := startServer(t, bin, t.TempDir(), args("node-a")...)
	b := startServer(t, bin, t.TempDir(), args("node-b")...)
	if _, err := a.client(t).PutPipeline(ctx, "cluster", "scheduled", []byte(clusterTriggers), "application/json"); err != nil {
		t.Fatal(err)
	}

	// The same delivery to both servers at once starts one execution.
	body := `{"artifact": "build-1.zip"}`
	var wg sync.WaitGroup
	results := make([]apitype.DeliveryResult, 2)
	for i, s := range []*server{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = deliverSigned(t, s.url, body, "delivery-1")
		}()
	}
	wg.Wait()
	if started := len(results[0].Executions) + len(results[1].Executions); started != 1 {
		t.Errorf("one delivery sent to two servers started %d executions (%+v), want 1", started, results)
	}

	sluicetest.WaitFor(t, "two cron ticks", time.Minute, func() bool { return len(tickTimes(t, st)) >= 2 })
	a.kill(syscall.SIGKILL)
	killed := time.Now()

	// After the kill: the replay starts nothing, a new delivery one.
	if r := deliverSigned(t, b.url, body, "delivery-1"); len(r.Executions) != 0 || len(r.Replayed) != 1 {
		t.Errorf("the replay after the kill = %+v, want nothing started", r)
	}
	if r := deliverSigned(t, b.url, `{"artifact": "build-2.zip"}`, "delivery-2"); len(r.Executions) != 1 {
		t.Errorf("a new delivery after the kill = %+v, want one execution", r)
	}

	sluicetest.WaitFor(t, "ticks after the kill, each once", time.Minute, func() bool {
		ticks := tickTimes(t, st)
		return len(ticks) > 0 && ticks[len(ticks)-1] > killed.Unix()+8 && everyOnce(ticks)
	})
	ticks := tickTimes(t, st)
	if !everyOnce(ticks) {
		t.Errorf("cron ticks %v: want every tick exactly once", ticks)
	}
	t.Logf("%d ticks, from %d to %d; node-a killed at %d", len(ticks), ticks[0], ticks[len(ticks)-1], killed.Unix())
	page, err := st.ExecutionList(ctx, &store.ExecutionListParams{Application: "cluster", Search: "webhook", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	webhooks := 0
	for _, x := range page.Executions {
		if strings.Contains(string(x.Trigger), `"type":"webhook"`) {
			webhooks++
		}
	}
	if webhooks != 2 {
		t.Errorf("%d executions by the webhook, want 2 (delivery-1 once, delivery-2 once)", webhooks)
	}
}

// deliverSigned posts a webhook delivery signed with the cluster secret.
func deliverSigned(t *testing.T, url, body, id string) apitype.DeliveryResult {
	req, err := http.NewRequest(http.MethodPost, url+"/webhooks/webhook/ci", strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return apitype.DeliveryResult{}
	}
	mac := hmac.New(sha256.New, []byte(clusterSecret))
	mac.Write([]byte(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("X-Sluice-Delivery", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return apitype.DeliveryResult{}
	}
	defer resp.Body.Close()
	var out apitype.DeliveryResult
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Errorf("delivery %s: status %d", id, resp.StatusCode)
	}
	return out
}

// tickTimes returns the ticks (Unix seconds) of the cron executions,
// sorted, each as often as it started one.
func tickTimes(t *testing.T, st store.Store) []int64 {
	page, err := st.ExecutionList(context.Background(), &store.ExecutionListParams{Application: "cluster", Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var ticks []int64
	for _, x := range page.Executions {
		var trig struct {
			Type    string `json:"type"`
			EventID string `json:"eventId"`
		}
		if err := json.Unmarshal(x.Trigger, &trig); err != nil {
			t.Fatal(err)
		}
		if trig.Type != "cron" {
			continue
		}
		var tick int64
		if _, err := fmt.Sscan(trig.EventID[strings.LastIndexByte(trig.EventID, '/')+1:], &tick); err != nil {
			t.Fatalf("eventId %q: %v", trig.EventID, err)
		}
		ticks = append(ticks, tick)
	}
	slices.Sort(ticks)
	return ticks
}

// everyOnce reports whether ticks are consecutive two-second ticks.
func everyOnce(ticks []int64) bool {
	for i := 1; i < len(ticks); i++ {
		if ticks[i] != ticks[i-1]+2 {
			return false
		}
	}
	return true
}
