package node_test

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/node"
)

// syncBuffer is a bytes.Buffer safe for the node's goroutines to log into.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestExecutionLog runs an execution on a node whose log is at info: the
// log tells the execution's story (its status changes, with the pipeline
// and who ran it, and each stage's, a failed one with its error), and
// River's routine records are not in it.
func TestExecutionLog(t *testing.T) {
	var out syncBuffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	n, err := node.Start(t.Context(), node.Options{DataDir: t.TempDir(), LambdaAddr: node.LambdaOff, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n.API)
	defer srv.Close()
	defer closeNode(t, n)
	c, err := apiclient.New(srv.URL, apiclient.WithToken(n.AdminToken))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	doc := `{"application":"demo","name":"logged","stages":[
	  {"refId":"1","name":"Pause","type":"wait","waitTime":0},
	  {"refId":"2","name":"Check","type":"checkPreconditions","requisiteStageRefIds":["1"],
	   "preconditions":[{"type":"expression","context":{"expression":"${1 == 2}"}}]}]}`
	if _, err := c.PutPipeline(ctx, "demo", "logged", []byte(doc), ""); err != nil {
		t.Fatal(err)
	}
	e, err := c.Trigger(ctx, "demo", "logged", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	done := regexp.MustCompile(`level=INFO msg=execution subsystem=executions id=` + e.ID + ` status=TERMINAL pipeline=demo/logged user=admin duration=\S+`)
	deadline := time.Now().Add(30 * time.Second)
	for !done.MatchString(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line matching %s after 30s; the log:\n%s", done, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := out.String()
	e, err = c.GetExecution(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`msg=execution subsystem=executions id=` + e.ID + ` status=RUNNING pipeline=demo/logged`,
		`msg=stage subsystem=executions id=` + e.ID + ` stage=1 stage_id=` + e.Stages[0].ID + ` name=Pause status=RUNNING`,
		`msg=stage subsystem=executions id=` + e.ID + ` stage=1 stage_id=` + e.Stages[0].ID + ` name=Pause status=SUCCEEDED`,
		`msg=stage subsystem=executions id=` + e.ID + ` stage=2 stage_id=` + e.Stages[1].ID + ` name=Check status=TERMINAL error=`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the log lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "River client") {
		t.Errorf("the log at info holds River's routine records:\n%s", got)
	}
}
