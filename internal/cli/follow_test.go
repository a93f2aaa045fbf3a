package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/httpapi"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/judgment"
	"github.com/sluice-cd/sluice/internal/stage/wait"
)

// serveAPI runs the API with the engine on a fresh SQLite store.
func serveAPI(t *testing.T) *apiclient.Client {
	t.Helper()
	st := sluicetest.OpenSQLite(t)
	eng := sluicetest.StartEngine(t, engine.Config{Store: st, Stages: stage.NewRegistry(wait.Type{}, judgment.Type{})})
	authn, token := sluicetest.Auth(t, st, "tester", "admin")
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Store: st, Engine: eng, Auth: authn}))
	t.Cleanup(srv.Close)
	c, err := apiclient.New(srv.URL, apiclient.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFollowBoard(t *testing.T) {
	t.Parallel()
	c := serveAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	doc := `{"application":"demo","name":"board","stages":[
	  {"refId":"1","name":"First","type":"wait","waitTime":0},
	  {"refId":"2","name":"Approve","type":"manualJudgment","requisiteStageRefIds":["1"]}]}`
	if _, err := c.PutPipeline(ctx, "demo", "board", []byte(doc), ""); err != nil {
		t.Fatal(err)
	}
	exec, err := c.Trigger(ctx, "demo", "board", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// Stop the judgment as soon as it waits; the board must show the end.
	go func() {
		for ctx.Err() == nil {
			if _, err := c.Judge(ctx, exec.ID, "2", apitype.JudgmentRequest{Status: "stop"}); err == nil || !apiclient.IsConflict(err) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	var out bytes.Buffer
	a := &app{stdout: &out, getenv: func(string) string { return "" }}
	final, err := a.followBoard(ctx, c, exec.ID)
	if err != nil {
		t.Fatalf("followBoard: %v", err)
	}
	if final.Status != "TERMINAL" {
		t.Errorf("final status = %s, want TERMINAL", final.Status)
	}
	text := out.String()
	if !strings.Contains(text, "\x1b[J") || !strings.Contains(text, ansiRed) {
		t.Errorf("board output lacks redraw or color codes: %q", text)
	}
	last := text[strings.LastIndex(text, "\x1b[J"):]
	if !strings.Contains(last, "TERMINAL") || !strings.Contains(last, "First") {
		t.Errorf("last drawing = %q, want the final state", last)
	}
	var ee *exitError
	if err := executionExit(final); !errors.As(err, &ee) || ee.code != ExitFailed {
		t.Errorf("exit = %v, want code %d", err, ExitFailed)
	}
}
