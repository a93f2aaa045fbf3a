package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/postgres"
	"github.com/sluice-cd/sluice/internal/store/sqlite"
)

// crashPipeline has work before, during and after a judgment, so a kill
// finds executions in every phase.
const crashPipeline = `{"application":"crash","name":"judged","limitConcurrent":false,
 "parameterConfig":[{"name":"n","required":true}],
 "stages":[
  {"refId":"1","type":"evaluateVariables","name":"Prepare","variables":[{"key":"n","value":"${parameters.n}"}]},
  {"refId":"2","type":"wait","name":"Soak","waitTime":1,"requisiteStageRefIds":["1"]},
  {"refId":"3","type":"manualJudgment","name":"Approve","requisiteStageRefIds":["2"]},
  {"refId":"4","type":"wait","name":"Bake","waitTime":1,"requisiteStageRefIds":["3"]},
  {"refId":"5","type":"evaluateVariables","name":"Finish","variables":[{"key":"done","value":"${n}"}],"requisiteStageRefIds":["4"]}]}`

// TestCrashRecovery kills `sluice serve` with SIGKILL while 50 executions
// are in flight, starts it again on the same data, and checks that every
// execution ends as judged, none is stuck, and no stage was completed
// twice — on SQLite, and on Postgres when SLUICE_TEST_POSTGRES_DSN is set.
// On Postgres the restarted server keeps its node ID (the default: host
// name and data directory), so it runs the jobs its previous run left
// running at once; without that River would wait over twenty minutes.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sluice binary")
	}
	eachServerStore(t, crashRecovery)
}

// serverTest is a test of a `sluice serve` it starts itself: bin is the
// binary, dataDir its --data-dir, args its other flags for the store, and
// open opens the store it uses.
type serverTest func(t *testing.T, bin, dataDir string, args []string, open func(context.Context) (store.Store, error))

// eachServerStore builds sluice and runs f with a server on SQLite, and on
// Postgres when SLUICE_TEST_POSTGRES_DSN is set.
func eachServerStore(t *testing.T, f serverTest) {
	bin := buildSluice(t)
	t.Run("sqlite", func(t *testing.T) {
		dataDir := t.TempDir()
		f(t, bin, dataDir, nil, func(ctx context.Context) (store.Store, error) {
			return sqlite.Open(ctx, filepath.Join(dataDir, "sluice.db"))
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dbURL := sluicetest.PostgresSchemaURL(t)
		open := func(ctx context.Context) (store.Store, error) { return postgres.Open(ctx, dbURL) }
		f(t, bin, t.TempDir(), []string{"--database-url", dbURL, "--lambda-addr", "off"}, open)
	})
}

func crashRecovery(t *testing.T, bin, dataDir string, args []string, open func(context.Context) (store.Store, error)) {
	ctx := context.Background()
	srv := startServer(t, bin, dataDir, args...)
	c := srv.client(t)
	if _, err := c.PutPipeline(ctx, "crash", "judged", []byte(crashPipeline), "application/json"); err != nil {
		t.Fatal(err)
	}
	const n = 50
	ids := make([]string, n)
	for i := range ids {
		exec, err := c.Trigger(ctx, "crash", "judged", apitype.TriggerRequest{Parameters: map[string]any{"n": i}})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = exec.ID
	}
	// Judge the first executions to reach the judgment, so that at the kill
	// some are baking, some wait to be judged and some are still soaking.
	judged := map[string]bool{}
	sluicetest.WaitFor(t, "ten executions waiting for a judgment", time.Minute, func() bool {
		for i, id := range ids {
			if judged[id] || stageStatus(t, c, id, "3") != "RUNNING" {
				continue
			}
			judge(t, c, id, i)
			judged[id] = true
		}
		return len(judged) >= 10
	})
	srv.kill(syscall.SIGKILL)

	srv = startServer(t, bin, dataDir, args...)
	c = srv.client(t)
	sluicetest.WaitFor(t, "every execution to finish", time.Minute, func() bool {
		finished := 0
		for i, id := range ids {
			exec, err := c.GetExecution(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if exec.Status.Complete() {
				finished++
				continue
			}
			if !judged[id] && stageOf(exec, "3").Status == "RUNNING" {
				judge(t, c, id, i)
				judged[id] = true
			}
		}
		return finished == n
	})
	for i, id := range ids {
		exec, err := c.GetExecution(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := status.Succeeded
		if i%2 == 1 {
			want = status.Terminal
		}
		if exec.Status != want {
			t.Errorf("execution %d (%s) ended %s, want %s", i, id, exec.Status, want)
		}
	}
	srv.kill(syscall.SIGTERM)

	st, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	assertStagesCompletedOnce(t, st, ids)
}

// assertStagesCompletedOnce checks that no stage of the executions
// completed twice: each stage has at most one event that gives it a final
// status.
func assertStagesCompletedOnce(t *testing.T, st store.Store, ids []string) {
	t.Helper()
	for _, id := range ids {
		events, err := st.EventList(context.Background(), &store.EventListParams{ExecutionID: id, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		completions := map[string]int{}
		for _, ev := range events {
			var data apitype.StageStatusData
			json.Unmarshal(ev.Data, &data)
			if apitype.EventType(ev.Type) == apitype.EventStageStatus && data.Status.Complete() {
				completions[ev.StageID]++
			}
		}
		for stageID, count := range completions {
			if count > 1 {
				t.Errorf("execution %s: stage %s completed %d times", id, stageID, count)
			}
		}
	}
}

// judge continues even-numbered executions and stops odd ones.
func judge(t *testing.T, c *apiclient.Client, id string, i int) {
	t.Helper()
	decision := apitype.JudgmentContinue
	if i%2 == 1 {
		decision = apitype.JudgmentStop
	}
	if _, err := c.Judge(context.Background(), id, "3", apitype.JudgmentRequest{Status: decision}); err != nil {
		t.Fatalf("judge %s: %v", id, err)
	}
}

func stageStatus(t *testing.T, c *apiclient.Client, id, refID string) status.Status {
	t.Helper()
	exec, err := c.GetExecution(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return stageOf(exec, refID).Status
}

func stageOf(exec *apitype.Execution, refID string) apitype.Stage {
	for _, s := range exec.Stages {
		if s.RefID == refID {
			return s
		}
	}
	panic(fmt.Sprintf("execution %s has no stage %s", exec.ID, refID))
}

var buildOnce struct {
	sync.Once
	path string
	err  error
}
