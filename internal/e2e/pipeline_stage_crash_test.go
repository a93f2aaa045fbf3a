package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// childPipeline runs long enough that a kill finds it in flight.
const childPipeline = `{"application":"family","name":"child","limitConcurrent":false,
 "parameterConfig":[{"name":"n","required":true}],
 "stages":[
  {"refId":"1","type":"wait","name":"Soak","waitTime":2},
  {"refId":"2","type":"evaluateVariables","name":"Answer","variables":[{"key":"answer","value":"${parameters.n}"}],"requisiteStageRefIds":["1"]}]}`

// parentPipeline starts the child and reads its output.
const parentPipeline = `{"application":"family","name":"parent","limitConcurrent":false,
 "parameterConfig":[{"name":"n","required":true}],
 "stages":[
  {"refId":"1","type":"pipeline","name":"Run child","application":"family","pipeline":%q,"pipelineParameters":{"n":"${parameters.n}"}},
  {"refId":"2","type":"evaluateVariables","name":"Check","variables":[{"key":"got","value":"${answer}"}],"requisiteStageRefIds":["1"]}]}`

// TestPipelineStageCrash kills `sluice serve` with SIGKILL while parents
// wait for (or are starting) their children, starts it again on the same
// data, and checks that every parent completes with exactly one child,
// whose output it read — on SQLite, and on Postgres when
// SLUICE_TEST_POSTGRES_DSN is set.
func TestPipelineStageCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sluice binary")
	}
	eachServerStore(t, pipelineStageCrash)
}

func pipelineStageCrash(t *testing.T, bin, dataDir string, args []string, open func(context.Context) (store.Store, error)) {
	ctx := context.Background()
	srv := startServer(t, bin, dataDir, args...)
	c := srv.client(t)
	child, err := c.PutPipeline(ctx, "family", "child", []byte(childPipeline), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutPipeline(ctx, "family", "parent", fmt.Appendf(nil, parentPipeline, child.ID), "application/json"); err != nil {
		t.Fatal(err)
	}
	const n = 30
	ids := make([]string, n)
	for i := range ids {
		exec, err := c.Trigger(ctx, "family", "parent", apitype.TriggerRequest{Parameters: map[string]any{"n": i}})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = exec.ID
	}
	// Kill once some parents wait for a child that is running.
	sluicetest.WaitFor(t, "five parents waiting for a child", time.Minute, func() bool {
		waiting := 0
		for _, id := range ids {
			if stageStatus(t, c, id, "1") == status.Running && childID(t, c, id) != "" {
				waiting++
			}
		}
		return waiting >= 5
	})
	srv.kill(syscall.SIGKILL)

	srv = startServer(t, bin, dataDir, args...)
	c = srv.client(t)
	sluicetest.WaitFor(t, "every parent to finish", 2*time.Minute, func() bool {
		for _, id := range ids {
			exec, err := c.GetExecution(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !exec.Status.Complete() {
				return false
			}
		}
		return true
	})
	for i, id := range ids {
		exec, err := c.GetExecution(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if exec.Status != status.Succeeded {
			t.Errorf("parent %d (%s) ended %s, want SUCCEEDED", i, id, exec.Status)
			continue
		}
		var outputs map[string]any
		json.Unmarshal(stageOf(exec, "2").Outputs, &outputs)
		if got := fmt.Sprint(outputs["got"]); got != fmt.Sprint(i) {
			t.Errorf("parent %d read %q from its child, want %d", i, got, i)
		}
	}
	srv.kill(syscall.SIGTERM)

	st, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.ExecutionList(ctx, &store.ExecutionListParams{Application: "family", PipelineName: "child", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	children := map[string][]string{} // parent → its children
	var childIDs []string
	for _, x := range page.Executions {
		var trigger struct {
			ParentExecution struct {
				ID string `json:"id"`
			} `json:"parentExecution"`
		}
		json.Unmarshal(x.Trigger, &trigger)
		children[trigger.ParentExecution.ID] = append(children[trigger.ParentExecution.ID], x.ID)
		childIDs = append(childIDs, x.ID)
		if x.Status != status.Succeeded {
			t.Errorf("child %s of parent %s ended %s, want SUCCEEDED", x.ID, trigger.ParentExecution.ID, x.Status)
		}
	}
	for i, id := range ids {
		if got := len(children[id]); got != 1 {
			t.Errorf("parent %d (%s) has %d children %v, want exactly 1", i, id, got, children[id])
		}
	}
	if len(page.Executions) != n {
		t.Errorf("%d child executions, want %d", len(page.Executions), n)
	}
	assertStagesCompletedOnce(t, st, append(ids, childIDs...))
}

// childID is the executionId a parent's pipeline stage recorded, if any.
func childID(t *testing.T, c interface {
	GetExecution(context.Context, string) (*apitype.Execution, error)
}, id string) string {
	t.Helper()
	exec, err := c.GetExecution(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var ctx struct {
		ExecutionID string `json:"executionId"`
	}
	json.Unmarshal(stageOf(exec, "1").Context, &ctx)
	return ctx.ExecutionID
}
